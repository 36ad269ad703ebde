DROP INDEX reservations_customer;

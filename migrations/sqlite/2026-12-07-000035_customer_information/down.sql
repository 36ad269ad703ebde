DROP TABLE customer_information_parts;
DROP TABLE customer_information;

DROP TABLE station_transactions;

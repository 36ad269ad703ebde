DROP TABLE station_variables;

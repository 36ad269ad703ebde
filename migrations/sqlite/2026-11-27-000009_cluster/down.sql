DROP TABLE charger_owners;

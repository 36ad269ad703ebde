ALTER TABLE stations DROP COLUMN max_power_w;
DROP TABLE charging_profiles;

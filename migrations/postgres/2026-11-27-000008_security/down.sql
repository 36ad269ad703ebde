DROP TABLE security_jobs;
DROP TABLE security_events;
DROP TABLE installed_certificates;
DROP TABLE charger_certificates;

DROP TABLE maintenance_jobs;
DROP TABLE firmware_images;

ALTER TABLE firmware_images ADD COLUMN data BLOB NOT NULL DEFAULT x'';
ALTER TABLE maintenance_jobs ADD COLUMN data BLOB;
ALTER TABLE security_jobs ADD COLUMN data BLOB;
UPDATE firmware_images SET data = COALESCE((SELECT unhex(group_concat(hex(c.data), '' ORDER BY c.seq))
    FROM file_chunks c WHERE c.file_id = firmware_images.file_id), x'');
UPDATE maintenance_jobs SET data = COALESCE((SELECT unhex(group_concat(hex(c.data), '' ORDER BY c.seq))
    FROM file_chunks c WHERE c.file_id = maintenance_jobs.file_id), x'') WHERE file_id IS NOT NULL;
UPDATE security_jobs SET data = COALESCE((SELECT unhex(group_concat(hex(c.data), '' ORDER BY c.seq))
    FROM file_chunks c WHERE c.file_id = security_jobs.file_id), x'') WHERE file_id IS NOT NULL;
ALTER TABLE firmware_images DROP COLUMN file_id;
ALTER TABLE maintenance_jobs DROP COLUMN file_id;
ALTER TABLE security_jobs DROP COLUMN file_id;
ALTER TABLE maintenance_jobs DROP COLUMN token_expires_at;
ALTER TABLE maintenance_jobs DROP COLUMN token_used_at;
ALTER TABLE security_jobs DROP COLUMN token_expires_at;
ALTER TABLE security_jobs DROP COLUMN token_used_at;
DROP TABLE file_chunks;
DROP TABLE files;

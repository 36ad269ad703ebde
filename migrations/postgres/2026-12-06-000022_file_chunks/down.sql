ALTER TABLE firmware_images ADD COLUMN data BYTEA NOT NULL DEFAULT '';
ALTER TABLE maintenance_jobs ADD COLUMN data BYTEA;
ALTER TABLE security_jobs ADD COLUMN data BYTEA;
UPDATE firmware_images SET data = COALESCE((SELECT string_agg(c.data, ''::bytea ORDER BY c.seq)
    FROM file_chunks c WHERE c.file_id = firmware_images.file_id), '');
UPDATE maintenance_jobs SET data = COALESCE((SELECT string_agg(c.data, ''::bytea ORDER BY c.seq)
    FROM file_chunks c WHERE c.file_id = maintenance_jobs.file_id), '') WHERE file_id IS NOT NULL;
UPDATE security_jobs SET data = COALESCE((SELECT string_agg(c.data, ''::bytea ORDER BY c.seq)
    FROM file_chunks c WHERE c.file_id = security_jobs.file_id), '') WHERE file_id IS NOT NULL;
ALTER TABLE firmware_images ALTER COLUMN data DROP DEFAULT;
ALTER TABLE firmware_images DROP COLUMN file_id;
ALTER TABLE maintenance_jobs DROP COLUMN file_id;
ALTER TABLE security_jobs DROP COLUMN file_id;
ALTER TABLE maintenance_jobs DROP COLUMN token_expires_at;
ALTER TABLE maintenance_jobs DROP COLUMN token_used_at;
ALTER TABLE security_jobs DROP COLUMN token_expires_at;
ALTER TABLE security_jobs DROP COLUMN token_used_at;
DROP TABLE file_chunks;
DROP TABLE files;

-- Files in pieces, and single-use upload addresses with a lifetime (issue 19, item 12). Keep in
-- step with migrations/sqlite.
-- A file (a firmware image, a diagnostics file or a log a charger uploaded) is stored as chunks of
-- at most 256 KiB, so that an upload is written as it arrives and a download read as it is sent:
-- no transfer holds a whole file in memory. `complete` turns true in the transaction that gives the
-- file to its image or job; an incomplete file older than two hours is an abandoned upload.
CREATE TABLE files (
    id         BIGSERIAL PRIMARY KEY,
    size       BIGINT NOT NULL DEFAULT 0,
    complete   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    origin     TEXT -- only while this migration runs
);
CREATE TABLE file_chunks (
    file_id BIGINT NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    data    BYTEA NOT NULL,
    PRIMARY KEY (file_id, seq)
);

ALTER TABLE firmware_images ADD COLUMN file_id BIGINT REFERENCES files (id);
ALTER TABLE maintenance_jobs ADD COLUMN file_id BIGINT REFERENCES files (id);
ALTER TABLE security_jobs ADD COLUMN file_id BIGINT REFERENCES files (id);

-- The files stored so far move into chunks.
INSERT INTO files (size, complete, created_at, origin)
    SELECT length(data), TRUE, created_at, 'firmware:' || id FROM firmware_images;
INSERT INTO files (size, complete, created_at, origin)
    SELECT length(data), TRUE, updated_at, 'maintenance:' || id FROM maintenance_jobs
    WHERE data IS NOT NULL;
INSERT INTO files (size, complete, created_at, origin)
    SELECT length(data), TRUE, updated_at, 'security:' || id FROM security_jobs
    WHERE data IS NOT NULL;
UPDATE firmware_images SET file_id = (SELECT f.id FROM files f WHERE f.origin = 'firmware:' || firmware_images.id);
UPDATE maintenance_jobs SET file_id = (SELECT f.id FROM files f WHERE f.origin = 'maintenance:' || maintenance_jobs.id)
    WHERE data IS NOT NULL;
UPDATE security_jobs SET file_id = (SELECT f.id FROM files f WHERE f.origin = 'security:' || security_jobs.id)
    WHERE data IS NOT NULL;
INSERT INTO file_chunks (file_id, seq, data)
    SELECT t.file_id, s.k, substring(t.data FROM s.k * 262144 + 1 FOR 262144)
    FROM firmware_images t CROSS JOIN generate_series(0, 255) AS s(k)
    WHERE s.k * 262144 < length(t.data);
INSERT INTO file_chunks (file_id, seq, data)
    SELECT t.file_id, s.k, substring(t.data FROM s.k * 262144 + 1 FOR 262144)
    FROM maintenance_jobs t CROSS JOIN generate_series(0, 255) AS s(k)
    WHERE t.data IS NOT NULL AND s.k * 262144 < length(t.data);
INSERT INTO file_chunks (file_id, seq, data)
    SELECT t.file_id, s.k, substring(t.data FROM s.k * 262144 + 1 FOR 262144)
    FROM security_jobs t CROSS JOIN generate_series(0, 255) AS s(k)
    WHERE t.data IS NOT NULL AND s.k * 262144 < length(t.data);
ALTER TABLE firmware_images DROP COLUMN data;
ALTER TABLE maintenance_jobs DROP COLUMN data;
ALTER TABLE security_jobs DROP COLUMN data;
ALTER TABLE files DROP COLUMN origin;

-- An upload address (the token of a diagnostics or log job) accepts one upload, until it expires.
ALTER TABLE maintenance_jobs ADD COLUMN token_expires_at TIMESTAMP;
ALTER TABLE maintenance_jobs ADD COLUMN token_used_at TIMESTAMP;
ALTER TABLE security_jobs ADD COLUMN token_expires_at TIMESTAMP;
ALTER TABLE security_jobs ADD COLUMN token_used_at TIMESTAMP;
UPDATE maintenance_jobs SET token_expires_at = created_at + INTERVAL '1 day' WHERE token IS NOT NULL;
UPDATE maintenance_jobs SET token_used_at = updated_at WHERE file_id IS NOT NULL;
UPDATE security_jobs SET token_expires_at = created_at + INTERVAL '1 day' WHERE token IS NOT NULL;
UPDATE security_jobs SET token_used_at = updated_at WHERE file_id IS NOT NULL;

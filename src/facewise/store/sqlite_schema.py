"""The embedded store's SQLite schema.

Row ids are AUTOINCREMENT: a deleted collection's or face's id is never reused, so a vector
index (keyed by face row id, stored per collection row id) can never mistake a new row for
an old one.
"""

SCHEMA_VERSION = 5  # 2: video jobs; 3: accounts, cameras, data streams, stream processors;
# 4: audit trail, policies, opt-outs, key roles; 5: leases (work owned by one worker). Each
# version adds tables (an older file gains them on open) and, from 4, columns (ADDED_COLUMNS,
# added on open).
BUSY_TIMEOUT_MS = 30_000
DESCRIPTOR_BYTES = 128 * 4

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS collections (
    row_id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    face_model_version TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    tags TEXT NOT NULL,
    compacted_seq INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account, name)
);
CREATE TABLE IF NOT EXISTS faces (
    row_id INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_row_id INTEGER NOT NULL REFERENCES collections(row_id) ON DELETE CASCADE,
    face_id TEXT NOT NULL UNIQUE,
    image_id TEXT NOT NULL,
    external_image_id TEXT,
    box_left REAL NOT NULL, box_top REAL NOT NULL,
    box_width REAL NOT NULL, box_height REAL NOT NULL,
    confidence REAL NOT NULL,
    user_id TEXT,
    created_at_ms INTEGER NOT NULL,
    embedding BLOB NOT NULL CHECK (length(embedding) = 512)
);
CREATE INDEX IF NOT EXISTS faces_by_collection ON faces (collection_row_id, face_id);
CREATE INDEX IF NOT EXISTS faces_by_user ON faces (collection_row_id, user_id, face_id);
CREATE INDEX IF NOT EXISTS faces_by_external_id ON faces (collection_row_id, external_image_id);
CREATE TABLE IF NOT EXISTS users (
    collection_row_id INTEGER NOT NULL REFERENCES collections(row_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (collection_row_id, user_id)
);
CREATE TABLE IF NOT EXISTS request_tokens (
    collection_row_id INTEGER NOT NULL REFERENCES collections(row_id) ON DELETE CASCADE,
    token TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (collection_row_id, token)
);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_row_id INTEGER NOT NULL,
    face_row_id INTEGER NOT NULL,
    added INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_by_collection ON changes (collection_row_id, seq);
CREATE TABLE IF NOT EXISTS video_jobs (
    job_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT,
    request TEXT NOT NULL,
    client_token TEXT,
    fingerprint TEXT NOT NULL,
    metadata TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL,
    finished_at_ms INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS video_jobs_by_token
    ON video_jobs (account, kind, client_token) WHERE client_token IS NOT NULL;
CREATE INDEX IF NOT EXISTS video_jobs_by_status ON video_jobs (status, created_at_ms);
CREATE TABLE IF NOT EXISTS video_results (
    job_id TEXT NOT NULL REFERENCES video_jobs(job_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    person INTEGER NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
CREATE INDEX IF NOT EXISTS video_results_by_person ON video_results (job_id, person, seq);
CREATE TABLE IF NOT EXISTS video_persons (
    job_id TEXT NOT NULL REFERENCES video_jobs(job_id) ON DELETE CASCADE,
    person INTEGER NOT NULL,
    matches TEXT NOT NULL,
    PRIMARY KEY (job_id, person)
);
CREATE TABLE IF NOT EXISTS topics (
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (account, name)
);
CREATE TABLE IF NOT EXISTS access_keys (
    access_key_id TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    account TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER,
    role TEXT NOT NULL DEFAULT 'admin'
);
CREATE TABLE IF NOT EXISTS accounts (
    name TEXT PRIMARY KEY,
    account_id TEXT NOT NULL UNIQUE CHECK (length(account_id) = 12),
    created_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cameras (
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    loop INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (account, name)
);
CREATE TABLE IF NOT EXISTS data_streams (
    row_id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    retention_ms INTEGER NOT NULL,
    sinks TEXT NOT NULL,
    UNIQUE (account, name)
);
CREATE TABLE IF NOT EXISTS stream_records (
    stream_row_id INTEGER NOT NULL REFERENCES data_streams(row_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    arrival_ms INTEGER NOT NULL,
    partition_key TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (stream_row_id, seq)
);
CREATE INDEX IF NOT EXISTS stream_records_by_time ON stream_records (stream_row_id, arrival_ms);
CREATE TABLE IF NOT EXISTS stream_processors (
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    camera TEXT NOT NULL,
    data_stream TEXT NOT NULL,
    collection TEXT NOT NULL,
    settings TEXT NOT NULL,
    tags TEXT NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    session_id TEXT,
    started_by TEXT,
    PRIMARY KEY (account, name)
);
CREATE INDEX IF NOT EXISTS faces_by_age ON faces (collection_row_id, created_at_ms);
CREATE TABLE IF NOT EXISTS audit_records (
    account TEXT NOT NULL,
    seq INTEGER NOT NULL,
    time_ms INTEGER NOT NULL,
    operation TEXT NOT NULL,
    access_key_id TEXT,
    collection TEXT,
    requested_threshold REAL,
    applied_threshold REAL,
    faces_searched INTEGER NOT NULL,
    faces_matched INTEGER NOT NULL,
    ids TEXT NOT NULL,
    request_id TEXT,
    source_address TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (account, seq)
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit_records (time_ms, account, seq);
CREATE TABLE IF NOT EXISTS audit_heads (
    account TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS collection_policies (
    collection_row_id INTEGER PRIMARY KEY REFERENCES collections(row_id) ON DELETE CASCADE,
    min_threshold REAL,
    max_results INTEGER,
    search_keys INTEGER NOT NULL,
    max_face_age_ms INTEGER
);
CREATE TABLE IF NOT EXISTS account_policies (
    account TEXT PRIMARY KEY,
    threshold_floor REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS optouts (
    row_id INTEGER PRIMARY KEY AUTOINCREMENT,
    optout_id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    embedding BLOB NOT NULL CHECK (length(embedding) = 512)
);
CREATE INDEX IF NOT EXISTS optouts_by_account ON optouts (account, row_id);
CREATE TABLE IF NOT EXISTS leases (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    owner TEXT NOT NULL,
    until_ms INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
);
"""

# Columns later versions added to tables an older file already has: (table, column, type).
# An added column's default is what rows written before it mean (keys made before roles
# existed could do everything, so they become admin keys).
ADDED_COLUMNS = (
    ("access_keys", "role", "TEXT NOT NULL DEFAULT 'admin'"),
    ("stream_processors", "started_by", "TEXT"),
)

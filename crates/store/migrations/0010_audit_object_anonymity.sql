-- Whether an object was anonymous when the call touched it: an agency's auditors may then
-- not find it by its owner (the audit views show its owner to the owner and oversight
-- only). Records stored before this migration did not say; their objects count as
-- anonymous, which withholds more rather than less.
ALTER TABLE audit_objects ADD COLUMN anonymous BOOLEAN NOT NULL DEFAULT TRUE;

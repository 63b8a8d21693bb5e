-- Schema version 2: the codes of `mls_events` named, for people and dashboards that query the
-- fleet database themselves (`SELECT * FROM mls_events_named WHERE ...`).

CREATE TABLE mls_kinds (code smallint PRIMARY KEY, name text NOT NULL);
INSERT INTO mls_kinds VALUES (1, 'failure'), (2, 'success'), (3, 'backend error');

CREATE TABLE mls_reasons (code smallint PRIMARY KEY, name text NOT NULL);
INSERT INTO mls_reasons VALUES @REASONS@;

CREATE VIEW mls_events_named AS
SELECT s.name AS server, e.ts, k.name AS kind, r.name AS reason, e.attempts, e.ip, e.host, e.service, e.username,
       e.mechanism, e.logged_hostname, i.hostname AS ip_hostname, i.country_code, i.asn, i.aso
FROM mls_events e
JOIN mls_servers s ON s.id = e.server
LEFT JOIN mls_kinds k ON k.code = e.kind
LEFT JOIN mls_reasons r ON r.code = e.reason
LEFT JOIN mls_ip_info i ON i.ip = e.ip;

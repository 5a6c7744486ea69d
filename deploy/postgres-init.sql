-- Run once by the postgres image when its data directory is new: the login role the service
-- serves as. The migrations grant it what it may do (and nothing on the append-only logs but
-- SELECT and INSERT). Change the password in any real deployment.
CREATE ROLE registry_app LOGIN PASSWORD 'registry_app';

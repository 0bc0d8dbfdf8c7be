import { DisklessError } from '../errors/diskless-error.js';

/**
 * The database's schema, one numbered step after another. A server applies at start the steps
 * the database lacks (each in its own transaction, recorded in diskless_schema), under an
 * advisory lock so servers starting together do not race; a database whose schema is newer
 * than the newest step here is refused, since this server would misread it. Steps are never
 * edited once released: a change is a new step.
 */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

/** pg_advisory_lock key held while migrating: "dl" "sc" as two 16-bit halves, chosen once. */
export const MIGRATION_LOCK_KEY = 0x646c_7363;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'boot servers and their heartbeats; DHCP leases claimed in the database',
    sql: `
CREATE TABLE diskless_servers (
  -- The server's DHCP server identifier (server.address): what clients name in option 54.
  address text PRIMARY KEY,
  name text NOT NULL,
  boot_url text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  -- Set by a clean stop: the server is gone at once, not after the heartbeat goes stale.
  stopped_at timestamptz
);

CREATE SEQUENCE dhcp_lease_revision;

CREATE TABLE dhcp_leases (
  ip text PRIMARY KEY,
  mac text NOT NULL,
  state text NOT NULL CHECK (state IN ('offered', 'bound', 'declined')),
  -- Milliseconds since the epoch, from the server clock that made the change.
  expires_at bigint NOT NULL,
  hostname text,
  -- The server that made the entry (its address).
  server text NOT NULL,
  -- Grows with every change, so a server applies changes it hears of in order.
  revision bigint NOT NULL DEFAULT nextval('dhcp_lease_revision')
);
-- At most one address per client, as each server's own table always had; declines are
-- addresses taken out of service, not the client's.
CREATE UNIQUE INDEX dhcp_leases_one_per_mac ON dhcp_leases (mac) WHERE state <> 'declined';

-- A deleted entry is announced with the revision of its deletion.
CREATE FUNCTION diskless_lease_row(l dhcp_leases) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('ip', l.ip, 'mac', l.mac, 'state', l.state, 'expiresAt', l.expires_at,
    'hostname', l.hostname, 'server', l.server, 'revision', l.revision)
$$;

-- One lease change, decided atomically: {kind, mac, ip, expiresAt, hostname, server, now,
-- maxDeclined}. Returns {ok, rows}: ok false when another client holds the address (rows then
-- carry its entry, so the caller's view learns it), and every entry changed or deleted
-- ({ip, deleted, revision}). Every change is announced on the channel diskless_leases.
CREATE FUNCTION diskless_lease_apply(a jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  kind text := a->>'kind';
  p_mac text := a->>'mac';
  p_ip text := a->>'ip';
  p_now bigint := (a->>'now')::bigint;
  p_server text := a->>'server';
  cur dhcp_leases;
  other dhcp_leases;
  changed jsonb := '[]'::jsonb;
  r dhcp_leases;
  rev bigint;
BEGIN
  IF kind = 'cancel-offer' THEN
    -- Only this server's own offer of another address: the one the client selected (from
    -- another server; the same row if both offered it) is that server's to bind.
    FOR r IN DELETE FROM dhcp_leases WHERE mac = p_mac AND state = 'offered' AND server = p_server
        AND ip IS DISTINCT FROM p_ip RETURNING * LOOP
      changed := changed || jsonb_build_object('ip', r.ip, 'deleted', true, 'revision', nextval('dhcp_lease_revision'));
    END LOOP;
  ELSE
    SELECT * INTO cur FROM dhcp_leases WHERE ip = p_ip FOR UPDATE;
    IF kind IN ('offer', 'bind') THEN
      -- Another client's unexpired offer, lease or decline: not ours to give.
      IF FOUND AND cur.expires_at > p_now AND (cur.mac <> p_mac OR (kind = 'offer' AND cur.state = 'declined')) THEN
        RETURN jsonb_build_object('ok', false, 'rows', jsonb_build_array(diskless_lease_row(cur)));
      END IF;
      -- A client rebooting with a still-valid lease DISCOVERs again: it stays bound.
      IF kind = 'offer' AND FOUND AND cur.state = 'bound' AND cur.expires_at > p_now THEN
        RETURN jsonb_build_object('ok', true, 'rows', jsonb_build_array(diskless_lease_row(cur)));
      END IF;
      -- An offer never moves a client away from its valid binding, nor from another server's
      -- offer still standing (the client may be REQUESTing it right now, and the address would
      -- be free for a third client meanwhile): the server learns that address and offers it too.
      IF kind = 'offer' THEN
        SELECT * INTO other FROM dhcp_leases WHERE mac = p_mac AND expires_at > p_now AND ip <> p_ip
          AND (state = 'bound' OR (state = 'offered' AND server <> p_server));
        IF FOUND THEN
          RETURN jsonb_build_object('ok', false, 'rows', jsonb_build_array(diskless_lease_row(other)));
        END IF;
      END IF;
      BEGIN
        FOR r IN DELETE FROM dhcp_leases WHERE mac = p_mac AND state <> 'declined' AND ip <> p_ip RETURNING * LOOP
          changed := changed || jsonb_build_object('ip', r.ip, 'deleted', true, 'revision', nextval('dhcp_lease_revision'));
        END LOOP;
        INSERT INTO dhcp_leases AS l (ip, mac, state, expires_at, hostname, server)
          VALUES (p_ip, p_mac, CASE WHEN kind = 'offer' THEN 'offered' ELSE 'bound' END, (a->>'expiresAt')::bigint, a->>'hostname', p_server)
          ON CONFLICT (ip) DO UPDATE SET mac = EXCLUDED.mac, state = EXCLUDED.state, expires_at = EXCLUDED.expires_at,
            hostname = EXCLUDED.hostname, server = EXCLUDED.server, revision = nextval('dhcp_lease_revision')
          RETURNING * INTO r;
      EXCEPTION WHEN unique_violation THEN
        -- Another server gave this client (or this address) an entry in the same instant.
        SELECT * INTO other FROM dhcp_leases WHERE ip = p_ip;
        RETURN jsonb_build_object('ok', false, 'rows', CASE WHEN FOUND THEN jsonb_build_array(diskless_lease_row(other)) ELSE '[]'::jsonb END);
      END;
      changed := changed || diskless_lease_row(r);
    ELSIF kind = 'release' THEN
      IF FOUND AND cur.mac = p_mac AND cur.state <> 'declined' THEN
        UPDATE dhcp_leases SET state = 'bound', expires_at = LEAST(expires_at, p_now), revision = nextval('dhcp_lease_revision')
          WHERE ip = p_ip RETURNING * INTO r;
        changed := changed || diskless_lease_row(r);
      END IF;
    ELSIF kind = 'decline' THEN
      -- Only the client the address is offered or bound to may decline it.
      IF FOUND AND cur.mac = p_mac AND cur.state <> 'declined' AND cur.expires_at > p_now THEN
        UPDATE dhcp_leases SET state = 'declined', expires_at = (a->>'expiresAt')::bigint, hostname = NULL,
          server = p_server, revision = nextval('dhcp_lease_revision')
          WHERE ip = p_ip RETURNING * INTO r;
        changed := changed || diskless_lease_row(r);
        -- Declines held at once are capped, oldest (soonest to expire) dropped first.
        FOR r IN DELETE FROM dhcp_leases WHERE ip IN (
            SELECT ip FROM dhcp_leases WHERE state = 'declined'
            ORDER BY (expires_at > p_now) DESC, expires_at DESC OFFSET (a->>'maxDeclined')::int) RETURNING * LOOP
          changed := changed || jsonb_build_object('ip', r.ip, 'deleted', true, 'revision', nextval('dhcp_lease_revision'));
        END LOOP;
      ELSE
        RETURN jsonb_build_object('ok', false, 'rows', CASE WHEN FOUND THEN jsonb_build_array(diskless_lease_row(cur)) ELSE '[]'::jsonb END);
      END IF;
    ELSE
      RAISE EXCEPTION 'unknown lease action %', kind;
    END IF;
  END IF;
  IF jsonb_array_length(changed) > 0 THEN
    PERFORM pg_notify('diskless_leases', changed::text);
  END IF;
  RETURN jsonb_build_object('ok', true, 'rows', changed);
END
$$;

-- Several changes in one transaction, in order (one round trip and one commit for a burst, as
-- the lease file's group commit): returns the list of diskless_lease_apply's answers. An offer
-- is visible to every server at commit, which is what keeps two servers from offering one
-- address to two clients; on disk it need not be: an offer a crash loses costs the client a
-- retry, as RFC 2131 §3.1 allows ("servers need not reserve the offered network address"). So
-- a batch of offers and cancels only does not wait for the WAL flush; one holding a binding,
-- release or decline does, before any of its replies leaves.
CREATE FUNCTION diskless_lease_apply_all(actions jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  out jsonb := '[]'::jsonb;
  a jsonb;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM jsonb_array_elements(actions) x WHERE x->>'kind' NOT IN ('offer', 'cancel-offer')) THEN
    PERFORM set_config('synchronous_commit', 'off', true);
  END IF;
  FOR a IN SELECT value FROM jsonb_array_elements(actions) LOOP
    out := out || jsonb_build_array(diskless_lease_apply(a));
  END LOOP;
  RETURN out;
END
$$;
`,
  },
  {
    version: 2,
    description: 'secrets windows shared by every boot server',
    sql: `
CREATE TABLE secrets_windows (
  mac text PRIMARY KEY,
  -- Milliseconds since the epoch, from the clock of the server whose DHCP opened it.
  opened_at bigint NOT NULL,
  -- The address our DHCP gave the machine in that exchange (full mode).
  ip text
);
`,
  },
  {
    version: 3,
    description: 'boot tokens redeemable at every boot server',
    sql: `
-- Only the SHA-256 of each token: a reader of the database cannot redeem one.
CREATE TABLE boot_tokens (
  digest bytea PRIMARY KEY,
  mac text NOT NULL,
  ip text NOT NULL,
  -- Milliseconds since the epoch, from the clock of the server that issued it.
  expires_at bigint NOT NULL,
  used boolean NOT NULL DEFAULT false
);
CREATE INDEX boot_tokens_expiry ON boot_tokens (expires_at);
`,
  },
  {
    version: 4,
    description: 'per-node secrets, sealed with a key kept outside the database',
    sql: `
CREATE TABLE node_secrets (
  -- A MAC (aa:bb:…), or '*' for the default of every node without its own.
  node text NOT NULL,
  name text NOT NULL,
  -- AES-256-GCM: nonce (12 bytes), tag (16), ciphertext; node and name are the additional data.
  sealed bytea NOT NULL,
  PRIMARY KEY (node, name)
);
-- HMAC-SHA256 of a fixed label under the secrets key: servers check they hold the same key.
CREATE TABLE secrets_key_check (
  id int PRIMARY KEY CHECK (id = 1),
  mac bytea NOT NULL
);
`,
  },
  {
    version: 5,
    description: "each boot server's TLS certificate, for the initrds every server builds",
    sql: `
-- PEM; a node's initrd carries every server's, so its secrets may come from any of them.
ALTER TABLE diskless_servers ADD COLUMN tls_cert text;
`,
  },
  {
    version: 6,
    description: "every address each boot server answers DHCP as (its subnets' server_address)",
    sql: `
-- server.address and every dhcp.subnets server_address: a client names any of them in option 54.
ALTER TABLE diskless_servers ADD COLUMN addresses text[] NOT NULL DEFAULT '{}';
UPDATE diskless_servers SET addresses = ARRAY[address];
`,
  },
  {
    version: 7,
    description: 'boot events shared by every boot server, and which versions the nodes run',
    sql: `
-- Every boot event any server recorded (a NewBootEvent as JSON), in the order of its id.
CREATE TABLE boot_events (
  id bigserial PRIMARY KEY,
  -- The server that saw it (its server.address).
  server text NOT NULL,
  event jsonb NOT NULL
);
-- How far each server has read the others' events, so a restart resumes where it stopped.
CREATE TABLE boot_event_cursors (
  server text PRIMARY KEY,
  last_id bigint NOT NULL
);
-- Adds a server's events. Ids are taken and committed under one lock, so they become visible
-- in id order and a reader following the ids never skips one committed late. Events beyond
-- the newest 'keep' are deleted. Announced on diskless_events (the payload: the newest id).
CREATE FUNCTION diskless_events_add(p_server text, p_events jsonb, p_keep bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  newest bigint;
BEGIN
  -- The key: "dl" "ev" as two 16-bit halves.
  PERFORM pg_advisory_xact_lock(1684825462);
  INSERT INTO boot_events (server, event) SELECT p_server, value FROM jsonb_array_elements(p_events) WITH ORDINALITY ORDER BY ordinality;
  SELECT max(id) INTO newest FROM boot_events;
  DELETE FROM boot_events WHERE id <= newest - p_keep;
  PERFORM pg_notify('diskless_events', newest::text);
  RETURN newest;
END
$$;

-- Machines the inventory does not list that asked any server for an address or a boot script.
CREATE TABLE discovered_machines (
  mac text PRIMARY KEY,
  first_seen timestamptz NOT NULL,
  last_seen timestamptz NOT NULL,
  count bigint NOT NULL,
  vendor_class text,
  arch text,
  user_class text,
  last_ip text
);
CREATE INDEX discovered_machines_last_seen ON discovered_machines (last_seen);

-- The stored version each node was last handed (image rm and GC keep it).
CREATE TABLE running_versions (
  mac text PRIMARY KEY,
  image text NOT NULL,
  version text NOT NULL,
  since text NOT NULL
);
`,
  },
  {
    version: 8,
    description: 'version pins (a rollout\'s), honoured by every boot server',
    sql: `
-- The stored version a node boots instead of its image's published one; changes are
-- announced on diskless_version_pins.
CREATE TABLE version_pins (
  mac text PRIMARY KEY,
  image text NOT NULL,
  version text NOT NULL,
  since text NOT NULL,
  -- Who set it, e.g. "rollout 20260101-120000-ab12".
  pinned_by text NOT NULL
);
`,
  },
  {
    version: 9,
    description: "every image's versions and published pointer, and which boot servers hold a copy of each version",
    sql: `
-- Each stored version (its manifest as the store wrote it: sizes and SHA-256 of every file).
CREATE TABLE image_versions (
  name text NOT NULL,
  version text NOT NULL,
  manifest jsonb NOT NULL,
  -- The manifest's creation time (ISO 8601), which orders an image's versions.
  created text NOT NULL,
  PRIMARY KEY (name, version)
);
-- The version new boots of an image get; previous is newest first (where rollback goes).
CREATE TABLE image_pointers (
  name text PRIMARY KEY,
  version text NOT NULL,
  previous text[] NOT NULL DEFAULT '{}',
  published_at text NOT NULL,
  FOREIGN KEY (name, version) REFERENCES image_versions (name, version)
);
-- Which server (its server.address) holds a copy of which version, or why it could not fetch one.
CREATE TABLE image_copies (
  server text NOT NULL,
  name text NOT NULL,
  version text NOT NULL,
  ok boolean NOT NULL,
  error text,
  at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (server, name, version)
);
`,
  },
  {
    version: 10,
    description: 'DHCP leases keep the inventory node their client was taken for',
    sql: `
-- The node's identity key (its MAC, or host:NAME for a node known by its switch port): a
-- reservation follows the node onto a new mainboard while the old machine's lease runs, on
-- every server as on one.
ALTER TABLE dhcp_leases ADD COLUMN node text;

CREATE OR REPLACE FUNCTION diskless_lease_row(l dhcp_leases) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('ip', l.ip, 'mac', l.mac, 'state', l.state, 'expiresAt', l.expires_at,
    'hostname', l.hostname, 'server', l.server, 'revision', l.revision, 'node', l.node)
$$;

-- As in step 1, but a node's new machine may take its old machine's unexpired entry, and the
-- node key is stored with each offer and binding.
CREATE OR REPLACE FUNCTION diskless_lease_apply(a jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  kind text := a->>'kind';
  p_mac text := a->>'mac';
  p_ip text := a->>'ip';
  p_now bigint := (a->>'now')::bigint;
  p_server text := a->>'server';
  p_node text := a->>'node';
  cur dhcp_leases;
  other dhcp_leases;
  changed jsonb := '[]'::jsonb;
  r dhcp_leases;
  rev bigint;
BEGIN
  IF kind = 'cancel-offer' THEN
    -- Only this server's own offer of another address: the one the client selected (from
    -- another server; the same row if both offered it) is that server's to bind.
    FOR r IN DELETE FROM dhcp_leases WHERE mac = p_mac AND state = 'offered' AND server = p_server
        AND ip IS DISTINCT FROM p_ip RETURNING * LOOP
      changed := changed || jsonb_build_object('ip', r.ip, 'deleted', true, 'revision', nextval('dhcp_lease_revision'));
    END LOOP;
  ELSE
    SELECT * INTO cur FROM dhcp_leases WHERE ip = p_ip FOR UPDATE;
    IF kind IN ('offer', 'bind') THEN
      -- Another client's unexpired offer, lease or decline: not ours to give. An entry of the
      -- same inventory node (another machine on its switch port: a replaced mainboard) is not
      -- another client's.
      IF FOUND AND cur.expires_at > p_now AND ((cur.mac <> p_mac AND (p_node IS NULL OR cur.node IS DISTINCT FROM p_node OR cur.state = 'declined'))
          OR (kind = 'offer' AND cur.state = 'declined')) THEN
        RETURN jsonb_build_object('ok', false, 'rows', jsonb_build_array(diskless_lease_row(cur)));
      END IF;
      -- A client rebooting with a still-valid lease DISCOVERs again: it stays bound.
      IF kind = 'offer' AND FOUND AND cur.mac = p_mac AND cur.state = 'bound' AND cur.expires_at > p_now THEN
        RETURN jsonb_build_object('ok', true, 'rows', jsonb_build_array(diskless_lease_row(cur)));
      END IF;
      -- An offer never moves a client away from its valid binding, nor from another server's
      -- offer still standing (the client may be REQUESTing it right now, and the address would
      -- be free for a third client meanwhile): the server learns that address and offers it too.
      IF kind = 'offer' THEN
        SELECT * INTO other FROM dhcp_leases WHERE mac = p_mac AND expires_at > p_now AND ip <> p_ip
          AND (state = 'bound' OR (state = 'offered' AND server <> p_server));
        IF FOUND THEN
          RETURN jsonb_build_object('ok', false, 'rows', jsonb_build_array(diskless_lease_row(other)));
        END IF;
      END IF;
      BEGIN
        FOR r IN DELETE FROM dhcp_leases WHERE mac = p_mac AND state <> 'declined' AND ip <> p_ip RETURNING * LOOP
          changed := changed || jsonb_build_object('ip', r.ip, 'deleted', true, 'revision', nextval('dhcp_lease_revision'));
        END LOOP;
        INSERT INTO dhcp_leases AS l (ip, mac, state, expires_at, hostname, server, node)
          VALUES (p_ip, p_mac, CASE WHEN kind = 'offer' THEN 'offered' ELSE 'bound' END, (a->>'expiresAt')::bigint, a->>'hostname', p_server, p_node)
          ON CONFLICT (ip) DO UPDATE SET mac = EXCLUDED.mac, state = EXCLUDED.state, expires_at = EXCLUDED.expires_at,
            hostname = EXCLUDED.hostname, server = EXCLUDED.server, node = EXCLUDED.node, revision = nextval('dhcp_lease_revision')
          RETURNING * INTO r;
      EXCEPTION WHEN unique_violation THEN
        -- Another server gave this client (or this address) an entry in the same instant.
        SELECT * INTO other FROM dhcp_leases WHERE ip = p_ip;
        RETURN jsonb_build_object('ok', false, 'rows', CASE WHEN FOUND THEN jsonb_build_array(diskless_lease_row(other)) ELSE '[]'::jsonb END);
      END;
      changed := changed || diskless_lease_row(r);
    ELSIF kind = 'release' THEN
      IF FOUND AND cur.mac = p_mac AND cur.state <> 'declined' THEN
        UPDATE dhcp_leases SET state = 'bound', expires_at = LEAST(expires_at, p_now), revision = nextval('dhcp_lease_revision')
          WHERE ip = p_ip RETURNING * INTO r;
        changed := changed || diskless_lease_row(r);
      END IF;
    ELSIF kind = 'decline' THEN
      -- Only the client the address is offered or bound to may decline it.
      IF FOUND AND cur.mac = p_mac AND cur.state <> 'declined' AND cur.expires_at > p_now THEN
        UPDATE dhcp_leases SET state = 'declined', expires_at = (a->>'expiresAt')::bigint, hostname = NULL,
          server = p_server, node = NULL, revision = nextval('dhcp_lease_revision')
          WHERE ip = p_ip RETURNING * INTO r;
        changed := changed || diskless_lease_row(r);
        -- Declines held at once are capped, oldest (soonest to expire) dropped first.
        FOR r IN DELETE FROM dhcp_leases WHERE ip IN (
            SELECT ip FROM dhcp_leases WHERE state = 'declined'
            ORDER BY (expires_at > p_now) DESC, expires_at DESC OFFSET (a->>'maxDeclined')::int) RETURNING * LOOP
          changed := changed || jsonb_build_object('ip', r.ip, 'deleted', true, 'revision', nextval('dhcp_lease_revision'));
        END LOOP;
      ELSE
        RETURN jsonb_build_object('ok', false, 'rows', CASE WHEN FOUND THEN jsonb_build_array(diskless_lease_row(cur)) ELSE '[]'::jsonb END);
      END IF;
    ELSE
      RAISE EXCEPTION 'unknown lease action %', kind;
    END IF;
  END IF;
  IF jsonb_array_length(changed) > 0 THEN
    PERFORM pg_notify('diskless_leases', changed::text);
  END IF;
  RETURN jsonb_build_object('ok', true, 'rows', changed);
END
$$;
`,
  },
  {
    version: 11,
    description: 'the inventory (nodes, profiles, default_profile) shared by every boot server',
    sql: `
-- The inventory keys of the config as YAML text (comments kept): every server serves it in
-- place of those keys of its own config file. One row; each change announced on diskless_inventory.
CREATE TABLE inventory (
  id int PRIMARY KEY CHECK (id = 1),
  yaml text NOT NULL,
  revision bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
`,
  },
  {
    version: 12,
    description: 'image versions removed (image rm, image gc), so every boot server drops its copy and none lists it again',
    sql: `
-- A version taken off image_versions by one server: the others drop their copies when told
-- (diskless_images) or at their next start, and never list their copy again. Storing the
-- version anew (a build or import of the same root) takes it off this list.
CREATE TABLE image_removed (
  name text NOT NULL,
  version text NOT NULL,
  removed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, version)
);
`,
  },
  {
    version: 13,
    description: "each machine's last failure report, whichever boot server received it",
    sql: `
-- What /init uploaded when a stage failed (cleaned as the file store cleans it), one row per
-- machine, the newest DEFAULT_MAX_REPORTS kept; each write announced on diskless_failure_reports.
CREATE TABLE failure_reports (
  mac text PRIMARY KEY,
  at timestamptz NOT NULL,
  stage text NOT NULL,
  cause text NOT NULL,
  text text NOT NULL,
  truncated boolean NOT NULL,
  -- The server.address of the server that received it.
  server text NOT NULL
);
CREATE INDEX failure_reports_at ON failure_reports (at);
`,
  },
];

/** The newest schema this server knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The refusal for a database migrated by a newer server. */
export function newerSchemaError(url: string, found: number): DisklessError {
  return new DisklessError(
    'DL_DATABASE',
    `Cannot use the state database ${url}: its schema is version ${found}, newer than this server's ${SCHEMA_VERSION}; upgrade diskless on this server (a newer one migrated the database)`,
  );
}

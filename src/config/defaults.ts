/**
 * Defaults shared by the config and the services that use them directly (tests, the bench):
 * one number each. HTTP connection caps are far above what a fleet's boots need at once (a
 * node holds one or two) and far below the process's file descriptor limit.
 */
export const DEFAULT_MAX_HTTP_CONNECTIONS = 1024;
export const DEFAULT_MAX_HTTP_CONNECTIONS_PER_PEER = 64;
/** Event streams (SSE) open at once on the admin API. */
export const DEFAULT_MAX_EVENT_STREAMS = 64;
/** Seconds a failed boot under `on_failure: reboot|poweroff` waits (after uploading its report) before doing it. */
export const DEFAULT_FAILURE_DELAY_SEC = 30;

/**
 * The one base of the errors Diskless raises on purpose: something its user can act on, said
 * in the message. `code` is stable (scripts, the CLI's exit status and the API's HTTP status
 * depend on it; the message may be reworded), as undici's `UND_ERR_…` codes are. A class may
 * carry several codes where callers must tell the cases apart (the image store's "not found"
 * and "in use"). An error without one of these codes was not foreseen: the CLI shows its stack.
 *
 * This room imports nothing of the project, so every room may throw these.
 */
export const DISKLESS_ERROR_CODES = {
  DL_USAGE: 'The command line does not parse: unknown command or option',
  DL_INVALID: 'A value given is missing or invalid (an option, an argument, a password hash, a key file)',
  DL_CONFIG: 'The config file cannot be read or is invalid',
  DL_INVENTORY: 'An inventory edit is refused: it would make the config invalid or duplicate a node',
  DL_INVENTORY_NOT_FOUND: 'No node, profile or discovered machine by that name',
  DL_STORE: 'The image store refuses: an invalid name or version, nothing to roll back, a corrupt entry',
  DL_STORE_NOT_FOUND: 'No such image version, or no published version',
  DL_STORE_IN_USE: 'The version is published or running on nodes, so it is kept',
  DL_IMAGE_BUILD: 'An image build is refused (no kernel, unreadable source)',
  DL_NO_KERNEL: 'An image has no kernel with its modules, or several and none is named',
  DL_IMAGE_SHELL: 'An image shell is refused (not root, a tool missing, unknown image)',
  DL_TOOL: 'An external program is missing or failed',
  DL_SERVICE_START: 'A service of the server cannot start: its port is taken, its address or interface missing, its helper failed',
  DL_CERTIFICATE: 'The server\'s TLS certificate or key cannot be used',
  DL_SECRET_PERMISSION: 'A secret file is refused: a symlink, or others may read it',
  DL_SECRET: 'The secrets kept in the state database cannot be opened: the key file is missing, wrong, or a sealed secret was altered',
  DL_STATE: 'A state file under state_dir cannot be read: not JSON, invalid, or of a newer format',
  DL_DATABASE: 'The state database cannot be reached, refuses our credentials, or holds a schema newer than this server',
  DL_SERVER_UNREACHABLE: 'The CLI cannot reach the running server',
  DL_SERVER_REFUSED: 'The running server answered with an error',
  DL_ROLLOUT: 'A rollout is refused: another one is under way, its nodes do not boot the image, or it cannot take that step now',
  DL_ROLLOUT_NOT_FOUND: 'No rollout by that id',
} as const;

export type DisklessErrorCode = keyof typeof DISKLESS_ERROR_CODES;

export class DisklessError extends Error {
  override name = 'DisklessError';

  constructor(
    readonly code: DisklessErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

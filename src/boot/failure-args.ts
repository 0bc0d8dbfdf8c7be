import type { ProfileConfig } from '../config/types.js';
import { DEFAULT_FAILURE_DELAY_SEC } from '../config/defaults.js';

/**
 * Kernel arguments for a profile's `on_failure`: nothing for `shell` (the default: a root shell
 * on the console); for `reboot` and `poweroff`, dracut's rd.shell=0 and rd.emergency=ACTION, and
 * how long /init waits after uploading its failure report (rd.diskless.failure_delay).
 */
export function failureArgs(profile: Pick<ProfileConfig, 'onFailure' | 'failureDelaySec'>): string {
  const action = profile.onFailure ?? 'shell';
  if (action === 'shell') return '';
  return `rd.shell=0 rd.emergency=${action} rd.diskless.failure_delay=${profile.failureDelaySec ?? DEFAULT_FAILURE_DELAY_SEC}`;
}

import type { NewBootEvent } from '../events/boot-event.js';
import type { SecurityAlert } from '../identity/alerts.js';
import type { ServiceEvents } from '../events/service-events.js';

/**
 * Each service hook calls the recorder and then the caller's own hook (tests, the lab), so
 * recording events takes nothing away from `startServices`' `events` option. The recorder
 * guards itself; a caller's hook that throws is the caller's bug and is not hidden.
 */
export function bothEvents(recorder: Required<ServiceEvents>, caller: ServiceEvents | undefined): Required<ServiceEvents> {
  return {
    dhcp: (e) => (recorder.dhcp(e), caller?.dhcp?.(e)),
    tftp: (e) => (recorder.tftp(e), caller?.tftp?.(e)),
    http: (e) => (recorder.http(e), caller?.http?.(e)),
    nbd: (e) => (recorder.nbd(e), caller?.nbd?.(e)),
    node: (r) => (recorder.node(r), caller?.node?.(r)),
  };
}

/** A security alert from the identity code as a boot event of kind `alert`. */
export function alertEvent(a: SecurityAlert, time: number): NewBootEvent {
  return { time, ...(a.mac ? { mac: a.mac } : {}), ...(a.ip ? { ip: a.ip } : {}), kind: 'alert', name: a.name, detail: a.detail, fields: a.fields };
}

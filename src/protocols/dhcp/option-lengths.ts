import { OptionCode } from './option-codes.js';

type LengthRule = { min: number; max?: number; multipleOf?: number };

/**
 * Lengths RFC 2132/4578 fix for options whose value the policy acts on. A message whose
 * message type, server id or requested address has the wrong size cannot be answered
 * correctly, so the whole packet is rejected; RFC 3396 concatenation of a repeated fixed-size
 * option (two 53s) lands here too. Options only echoed or displayed are left to accessors.
 */
const RULES: ReadonlyMap<number, LengthRule> = new Map([
  [OptionCode.SubnetMask, { min: 4, max: 4 }],
  [OptionCode.Routers, { min: 4, multipleOf: 4 }],
  [OptionCode.DomainNameServers, { min: 4, multipleOf: 4 }],
  [OptionCode.BroadcastAddress, { min: 4, max: 4 }],
  [OptionCode.RequestedIpAddress, { min: 4, max: 4 }],
  [OptionCode.LeaseTime, { min: 4, max: 4 }],
  [OptionCode.OptionOverload, { min: 1, max: 1 }],
  [OptionCode.MessageType, { min: 1, max: 1 }],
  [OptionCode.ServerIdentifier, { min: 4, max: 4 }],
  [OptionCode.MaxMessageSize, { min: 2, max: 2 }],
  [OptionCode.ClientIdentifier, { min: 2 }],
  [OptionCode.ClientSystemArchitecture, { min: 2, multipleOf: 2 }],
  [OptionCode.ClientNetworkInterface, { min: 3, max: 3 }],
]);

/** A description of the first option whose length breaks its rule, or undefined. */
export function checkOptionLengths(options: ReadonlyMap<number, Uint8Array>): string | undefined {
  for (const [code, value] of options) {
    const rule = RULES.get(code);
    if (!rule) continue;
    const n = value.length;
    const bad = n < rule.min
      || (rule.max !== undefined && n > rule.max)
      || (rule.multipleOf !== undefined && n % rule.multipleOf !== 0);
    if (bad) return `option ${code} has invalid length ${n}`;
  }
  return undefined;
}

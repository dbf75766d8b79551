/**
 * Detection and selection where events are made: flags and rule hits first (the tuning file
 * applied), then what the user asked for (--min-severity, --action).
 */
import type { SmbEvent } from '../events/event';
import { applyFlagRules, SEVERITY_RANK } from '../detect/rules';
import { applyDetections } from '../detect/detections';
import { compileConfig, CompiledConfig, RulesConfig } from '../detect/config';

export interface EventFilter {
  minRank: number;
  /** null: every action */
  actions: string[] | null;
  /** --rules-config, validated (plain data: it travels to the worker threads) */
  rules?: RulesConfig | null;
}

export const ALL_EVENTS: EventFilter = { minRank: 0, actions: null };

/** compiled once per thread for each configuration object */
const compiled = new WeakMap<RulesConfig, CompiledConfig>();
export function compiledRules(rules: RulesConfig | null | undefined): CompiledConfig | undefined {
  if (!rules) return undefined;
  let c = compiled.get(rules);
  if (!c) { c = compileConfig(rules); compiled.set(rules, c); }
  return c;
}

/** flags and rule hits on one event; `onAllowed` hears of each hit an allow-list entry removed */
export function detect(e: SmbEvent, f: EventFilter, onAllowed?: (ruleId: string) => void): void {
  applyFlagRules(e);
  applyDetections(e, compiledRules(f.rules), onAllowed);
}

/** whether the user asked for the event (after detect) */
export function wanted(e: SmbEvent, f: EventFilter): boolean {
  if (SEVERITY_RANK[e.severity] < f.minRank) return false;
  return f.actions === null || f.actions.includes(e.action);
}

/** flags the event, then says whether it is wanted */
export function flagAndFilter(e: SmbEvent, f: EventFilter): boolean {
  detect(e, f);
  return wanted(e, f);
}

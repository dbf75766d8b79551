/** Which events the user asked for (--min-severity, --action), applied where events are made. */
import type { SmbEvent } from '../events/event';
import { applyFlagRules, SEVERITY_RANK } from '../detect/rules';

export interface EventFilter {
  minRank: number;
  /** null: every action */
  actions: string[] | null;
}

export const ALL_EVENTS: EventFilter = { minRank: 0, actions: null };

/** flags the event, then says whether it is wanted */
export function flagAndFilter(e: SmbEvent, f: EventFilter): boolean {
  applyFlagRules(e);
  if (SEVERITY_RANK[e.severity] < f.minRank) return false;
  return f.actions === null || f.actions.includes(e.action);
}

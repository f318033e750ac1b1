import type { SaGroupView } from '@espresso/api';
import type { SaGroupRecord } from '@espresso/sad';
import type { ControlPlane, GroupSelectors } from '../../state/control-plane.ts';
import { iso } from './sa-view.ts';

export function groupView(cp: ControlPlane, group: SaGroupRecord<GroupSelectors>): SaGroupView {
  const members = cp.sad.members(group.spec.name);
  const outbound: Record<string, string> = {};
  for (const member of members) {
    if (member.direction !== 'out') continue;
    const key = member.resource === null ? 'fallback' : String(member.resource);
    if (member.resource !== null) {
      const sa = cp.sad.outboundFor(group.spec.name, member.resource);
      if (sa !== undefined) outbound[key] = sa.name;
    } else {
      outbound[key] = member.sa;
    }
  }
  return {
    name: group.spec.name,
    resource: group.spec.resource,
    selectors: group.spec.selectors === undefined ? null : { ...group.spec.selectors },
    description: group.spec.description ?? null,
    addedAt: iso(group.addedAt),
    members,
    outbound,
  };
}

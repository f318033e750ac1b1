import type { PolicyView } from '@espresso/api';
import { type Policy, policyToConfig } from '@espresso/spd';
import type { ControlPlane } from '../../state/control-plane.ts';

export function policyView(cp: ControlPlane, policy: Policy): PolicyView {
  const config = policyToConfig(policy);
  const position = cp.spd.list().findIndex((p) => p.id === policy.id);
  const counters = cp.datapath.policyCounters(policy.id) ?? { packets: 0, bytes: 0 };
  return {
    ...config,
    id: policy.id,
    priority: policy.priority,
    position: Math.max(0, position),
    counters: { packets: counters.packets, bytes: counters.bytes },
    pfpSas: cp.acquires.pfpCount(policy.id),
  };
}

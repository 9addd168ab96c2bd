/**
 * The run state of a machine on a kiln line: its own stops, plus the kiln's. When the kiln is
 * down the line waits (idle), or stands (stopped) for a planned kiln stop. The kiln's timeline is
 * rebuilt from the seed, so this needs no message from the kiln and works in any subset of devices.
 */
import type { DeviceModel } from '../../core/model.ts';
import { neighbours, runTimeline, type SimContext } from '../sim.ts';
import { CONTINUOUS, type RunState, type StateTimeline, type TimelineSpec } from '../timeline.ts';

export class LineState {
  private readonly own: StateTimeline<RunState>;
  private readonly kiln: StateTimeline<RunState> | undefined;
  /** The kiln's rated capacity, m²/h: what the line is sized for (undefined without a kiln). */
  readonly lineCapacityM2h: number | undefined;

  constructor(device: DeviceModel, ctx: SimContext, spec: TimelineSpec<RunState>) {
    this.own = runTimeline(device, ctx, spec);
    const kiln = neighbours(device, ctx, 'line').find((d) => d.kind.id === 'roller_kiln');
    this.kiln = kiln ? runTimeline(kiln, ctx, CONTINUOUS) : undefined;
    this.lineCapacityM2h = kiln?.rated.capacityM2h;
  }

  at(tMs: number): RunState {
    const own = this.own.at(tMs);
    const kiln = this.kiln?.at(tMs) ?? 'running';
    if (own === 'fault' || kiln === 'running') return own;
    return kiln === 'stopped' ? 'stopped' : 'idle';
  }
}

import type { Me } from '../api.ts';

export interface ParkRef { id: string; name: string; nameZh?: string }
export interface DeviceRef { id: string; name: string; kind: string }
export interface WorkshopNode extends ParkRef { lines: (ParkRef & { devices: DeviceRef[] })[]; devices: DeviceRef[] }
export interface EnterpriseNode extends ParkRef { sector: string; workshops: WorkshopNode[] }
export interface ParkTree { zone: ParkRef; parks: (ParkRef & { enterprises: EnterpriseNode[] })[] }
export interface Ctx { me: Me; park: ParkTree; params: URLSearchParams }
export type Page = (root: HTMLElement, ctx: Ctx) => Promise<void>;

/** Every workshop of the tree with its path (park/enterprise/workshop ids). */
export function workshops(tree: ParkTree): { park: string; enterprise: string; ws: WorkshopNode; ent: EnterpriseNode }[] {
  return tree.parks.flatMap((p) => p.enterprises.flatMap((e) => e.workshops.map((w) => ({ park: p.id, enterprise: e.id, ws: w, ent: e }))));
}
export function enterprises(tree: ParkTree): { park: string; ent: EnterpriseNode }[] {
  return tree.parks.flatMap((p) => p.enterprises.map((e) => ({ park: p.id, ent: e })));
}
export function allDevices(tree: ParkTree): DeviceRef[] {
  return workshops(tree).flatMap(({ ws }) => [...ws.devices, ...ws.lines.flatMap((l) => l.devices)]);
}
/** Today's date (YYYY-MM-DD) and month (YYYY-MM) in the park's time zone (China Standard Time). */
export function localToday(tz = 'Asia/Shanghai'): { date: string; month: string } {
  const date = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
  return { date, month: date.slice(0, 7) };
}

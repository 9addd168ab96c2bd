/** Labels in zh-CN (default) and English; the choice is kept in localStorage. */
const zh = {
  title: '智慧园区运营控制台', login: '登录', logout: '退出', username: '用户名', password: '密码',
  loginFailed: '用户名或密码错误', loginLimited: '登录失败次数过多，请 {s} 秒后再试',
  overview: '园区总览', workshop: '车间', device: '设备', energy: '能效与OEE', alarms: '告警', devices: '设备管理',
  today: '今日', standardCoal: '综合能耗（标准煤）', carbon: '碳排放', onlineRate: '设备在线率', openAlarms: '未恢复告警',
  intensity: '万元产值能耗', enterprise: '企业', outputValue: '产值', unit: '单位', value: '数值',
  choose: '请选择', status: '状态', lastSeen: '最近上报', online: '在线', offline: '离线', unknown: '未知',
  metric: '指标', range: '时间范围', show: '查询', needsEngineer: '查看历史数据需要工程师及以上角色',
  product: '产品', perUnit: '单位产品能耗', grade: '能耗等级', grade1: '1级', grade2: '2级', grade3: '3级（限定值）', noGrade: '超限',
  oee: 'OEE', availability: '时间开动率', effectiveness: '性能开动率', quality: '合格品率', line: '产线',
  open: '未恢复', history: '历史', liveArrivals: '实时告警', severity: '级别', rule: '规则', raisedAt: '发生时间', state: '状态',
  ack: '确认', acked: '已确认', ackBy: '确认人', comment: '备注', cleared: '已恢复', raised: '告警中',
  disable: '停用', enable: '启用', rotate: '更换密钥', disabled: '已停用', enabled: '正常',
  newSecret: '新密钥（只显示一次，请立即交给设备安装人员）', report: '月度能源报表', month: '月份', download: '下载 .xlsx',
  period: '周期', thisMonth: '本月', role: '角色', language: 'English', none: '无', viaGateway: '经网关',
};
type Key = keyof typeof zh;
const en: Record<Key, string> = {
  title: 'Smart-park operator console', login: 'Log in', logout: 'Log out', username: 'Username', password: 'Password',
  loginFailed: 'Wrong username or password', loginLimited: 'Too many failed logins; try again in {s} s',
  overview: 'Zone overview', workshop: 'Workshop', device: 'Device', energy: 'Energy & OEE', alarms: 'Alarms', devices: 'Devices',
  today: 'Today', standardCoal: 'Energy (standard coal)', carbon: 'Carbon emissions', onlineRate: 'Device online rate', openAlarms: 'Open alarms',
  intensity: 'Energy per 10,000 yuan', enterprise: 'Enterprise', outputValue: 'Output value', unit: 'Unit', value: 'Value',
  choose: 'Choose', status: 'Status', lastSeen: 'Last seen', online: 'online', offline: 'offline', unknown: 'unknown',
  metric: 'Metric', range: 'Range', show: 'Show', needsEngineer: 'Telemetry history needs the engineer role or higher',
  product: 'Product', perUnit: 'Energy per unit', grade: 'Grade', grade1: 'Grade 1', grade2: 'Grade 2', grade3: 'Grade 3 (limit)', noGrade: 'above limit',
  oee: 'OEE', availability: 'Availability', effectiveness: 'Effectiveness', quality: 'Quality', line: 'Line',
  open: 'Open', history: 'History', liveArrivals: 'Live arrivals', severity: 'Severity', rule: 'Rule', raisedAt: 'Raised at', state: 'State',
  ack: 'Acknowledge', acked: 'Acknowledged', ackBy: 'By', comment: 'Comment', cleared: 'cleared', raised: 'raised',
  disable: 'Disable', enable: 'Enable', rotate: 'Rotate secret', disabled: 'disabled', enabled: 'enabled',
  newSecret: 'New secret (shown once: hand it to the device installer now)', report: 'Monthly energy report', month: 'Month', download: 'Download .xlsx',
  period: 'Period', thisMonth: 'This month', role: 'Role', language: '中文', none: 'none', viaGateway: 'via gateway',
};

export type Lang = 'zh-CN' | 'en';
let lang: Lang = localStorage.getItem('sp-lang') === 'en' ? 'en' : 'zh-CN';

export const getLang = (): Lang => lang;
export function setLang(l: Lang): void {
  lang = l;
  localStorage.setItem('sp-lang', l);
  document.documentElement.lang = l;
}
export function t(key: Key, vars: Record<string, string | number> = {}): string {
  const s = (lang === 'en' ? en : zh)[key];
  return s.replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? ''));
}
/** A model name in the current language (nameZh when Chinese and present). */
export const nameOf = (x: { name: string; nameZh?: string }): string => (lang === 'zh-CN' && x.nameZh ? x.nameZh : x.name);
export const fmtTime = (ms: number | null | undefined): string => (ms ? new Date(ms).toLocaleString(lang) : '—');
export const fmtNum = (v: unknown, digits = 3): string => (typeof v === 'number' && Number.isFinite(v) ? v.toLocaleString(lang, { maximumFractionDigits: digits }) : v === null || v === undefined ? '—' : String(v));
export const fmtPct = (v: unknown): string => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : '—');

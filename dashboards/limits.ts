/**
 * Display limits of the panels (threshold colours, not alarms: alarm rules live in
 * config/alarms.yaml). Figures from the park brief (shared/BRIEF.md §2–3) unless the park model
 * gives a device figure, which the dashboards then read from config/park.yaml instead.
 */
export const LIMITS = {
  /** Roller kiln firing zone, porcelain tile: ~1,150–1,220 °C (brief §2). */
  kilnFiringC: { lo: 1150, hi: 1220 },
  /** Spray dryer exhaust (outlet) temperature: 90–110 °C (brief §2). */
  sprayOutletC: { lo: 90, hi: 110 },
  /** Bioreactor culture temperature: set point ± 0.5 °C (brief §2; set point from the model). */
  bioreactorToleranceC: 0.5,
  /** Differential pressure between adjacent cleanroom grades: typically 10–15 Pa (brief §3). */
  cascadePa: { lo: 10, hi: 15 },
  /** Cleanroom room temperature and humidity comfort/process band (typical GMP design, illustrative). */
  cleanroomC: { lo: 18, hi: 26 },
  cleanroomRh: { lo: 30, hi: 65 },
  /** Freeze-dryer condenser: ≤ −60 °C while drying (brief §2). */
  condenserMaxC: -60,
  /** Share of a pharma workshop's electricity that goes to HVAC: shown amber above, red above. */
  hvacShare: { warn: 0.6, alarm: 0.8 },
  /** Output below these shares of the rated capacity is coloured red / amber. */
  outputShare: { low: 0.5, ok: 0.8 },
} as const;

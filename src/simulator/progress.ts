/**
 * Progress of a long replay on stderr: a line every 5% when stderr is a terminal, and one final
 * line in any case (so logs of scripted runs stay short).
 */

export interface ProgressSink {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

export interface ProgressReporter {
  readonly update: (done: number, total: number) => void;
  readonly done: (wallMs: number) => void;
}

const STEP_PERCENT = 5;

/** What the progress counts: `pods` `replayed` (trace replays), `gangs` `arrived` (gang runs). */
export interface ProgressUnit {
  readonly noun: string;
  readonly verb: string;
}

export function progressReporter(
  sink: ProgressSink,
  label: string,
  unit: ProgressUnit = { noun: 'pods', verb: 'replayed' },
): ProgressReporter {
  const live = sink.isTTY === true;
  let nextPercent = STEP_PERCENT;
  let total = 0;
  return {
    update(done: number, all: number): void {
      total = all;
      if (!live || all === 0) return;
      const pct = (100 * done) / all;
      if (pct + 1e-9 < nextPercent) return;
      sink.write(`${label}: ${Math.floor(pct)}% (${done}/${all} ${unit.noun})\n`);
      nextPercent = (Math.floor(pct / STEP_PERCENT) + 1) * STEP_PERCENT;
    },
    done(wallMs: number): void {
      sink.write(
        `${label}: ${total} ${unit.noun} ${unit.verb} in ${(wallMs / 1000).toFixed(1)} s\n`,
      );
    },
  };
}

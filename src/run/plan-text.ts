/** `groundwork plan` output: every stage and step with its exact argv and the files it writes. Pure. */
import type { Plan } from './types.js';

export function formatPlan(plan: Plan): string {
  const out: string[] = [`${plan.title}`];
  plan.stages.forEach((stage, i) => {
    out.push('');
    out.push(`${i + 1}. ${stage.name}: ${stage.title}${stage.concurrency && stage.concurrency > 1 ? ` (up to ${stage.concurrency} at once)` : ''}`);
    for (const n of stage.notes ?? []) out.push(`   note: ${n}`);
    if (stage.steps.length === 0) out.push('   (no steps)');
    for (const step of stage.steps) {
      const flags = [step.once ? 'once' : '', step.done ? 'skipped when already done' : '', step.timeoutMs ? `timeout ${Math.round(step.timeoutMs / 1000)}s` : '', step.retries ? `retries ${step.retries}` : '']
        .filter(Boolean)
        .join(', ');
      out.push(`   - ${step.id}: ${step.title}${flags ? ` [${flags}]` : ''}`);
      for (const argv of step.preview?.argv ?? []) out.push(`       $ ${argv.map(quoteForDisplay).join(' ')}`);
      for (const f of step.preview?.files ?? []) out.push(`       writes ${f}`);
      if (step.preview?.note) out.push(`       ${step.preview.note}`);
    }
  });
  return `${out.join('\n')}\n`;
}

/** Shell-style quoting for display only: argv is never handed to a shell. */
export function quoteForDisplay(arg: string): string {
  if (arg !== '' && /^[\w@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function planToJson(plan: Plan): unknown {
  return {
    title: plan.title,
    stages: plan.stages.map((s) => ({
      name: s.name,
      title: s.title,
      notes: s.notes ?? [],
      steps: s.steps.map((st) => ({
        id: st.id,
        title: st.title,
        once: st.once ?? false,
        idempotent: st.done !== undefined,
        timeoutMs: st.timeoutMs,
        retries: st.retries ?? 0,
        argv: st.preview?.argv ?? [],
        files: st.preview?.files ?? [],
        note: st.preview?.note,
      })),
    })),
  };
}

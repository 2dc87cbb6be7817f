import picocolors from 'picocolors';

/** The colour functions the CLI uses; every one is the identity when colour is off. */
export type Colors = ReturnType<typeof picocolors.createColors>;

interface Stream {
  isTTY?: boolean;
}

/**
 * Whether to colour what goes to this stream, by the usual conventions (https://no-color.org and
 * FORCE_COLOR): NO_COLOR set and non-empty turns colour off, FORCE_COLOR turns it on ("0" or "false" off),
 * otherwise a terminal that is not "dumb" gets colour. Decided per stream from the CLI's own env and
 * streams (not picocolors' process-wide guess), so `--json > file` and tests stay plain.
 */
export function colorEnabled(stream: Stream, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  return Boolean(stream.isTTY) && env.TERM !== 'dumb';
}

export function colorsFor(stream: Stream, env: NodeJS.ProcessEnv): Colors {
  return picocolors.createColors(colorEnabled(stream, env));
}

/** No colour: for renderers called outside a terminal (markdown, JSON, tests). */
export const plain: Colors = picocolors.createColors(false);

// Whether the installed rules can have changed since they were last found intact, without running
// iptables-save: nf_tables numbers every committed change of a namespace's ruleset (its
// generation), and iptables-nft changes go through it. Only for rules weftd put into nf_tables of
// its own namespace (backend nft, no command prefix); anything else has no generation to compare.
import { loadNative } from '../../dataplane/native.js';
import type { InstalledIpMasq } from './index.js';

export type GenerationReader = () => number;

/** The generation to compare for `installed`, or undefined when the rules must be read every time. */
export function generationOf(installed: InstalledIpMasq, read: GenerationReader = nftGeneration): number | undefined {
  if (installed.backend !== 'nft' || installed.prefix.length > 0) return undefined;
  const gen = read();
  return gen >= 0 ? gen : undefined;
}

function nftGeneration(): number {
  try {
    return loadNative().nftGeneration();
  } catch {
    return -1;
  }
}

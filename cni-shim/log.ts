// weft-cni logs to stderr only (stdout belongs to the CNI result); runtimes keep it with the error.
import { writeSync } from 'node:fs';

export function log(msg: string): void {
  try {
    writeSync(2, `weft-cni[${process.env.CNI_COMMAND ?? '?'} ${process.env.CNI_CONTAINERID ?? ''}]: ${msg}\n`);
  } catch {
    /* stderr closed: nothing else to do */
  }
}

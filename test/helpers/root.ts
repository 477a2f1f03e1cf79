// Tests that need root, netns or TUN call requireRoot() in beforeAll: they fail loudly, never skip.
import { existsSync } from 'node:fs';

export function requireRoot(): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error('this test needs root (network namespaces, TUN devices): run the suite as root, as CI does');
  }
  if (!existsSync('/dev/net/tun')) {
    throw new Error('this test needs /dev/net/tun: load the tun module (modprobe tun)');
  }
}

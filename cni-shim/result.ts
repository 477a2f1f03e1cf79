// Results between spec versions (CNI SPEC §Version considerations): 0.3.x and 0.4.0 carry
// ips[].version ("4"/"6"); 1.x drops it. 1.1.0 adds optional route fields (mtu, advmss, priority,
// table, scope) and interface fields (mtu, socketPath, pciID) that older versions do not know.
import { compareVersions } from './version.js';
import { isObject, type Json, type JsonObject } from './netconf.js';

const ROUTE_FIELDS_BEFORE_110 = ['dst', 'gw'];
const INTERFACE_FIELDS_BEFORE_110 = ['name', 'mac', 'sandbox'];

export function convertResult(result: JsonObject, to: string): JsonObject {
  const out: JsonObject = { ...result, cniVersion: to };
  const modern = compareVersions(to, '1.0.0') >= 0;
  if (Array.isArray(result.ips)) {
    out.ips = result.ips.map((ip) => {
      if (!isObject(ip)) return ip;
      const copy: JsonObject = { ...ip };
      if (modern) delete copy.version;
      else if (typeof ip.address === 'string') copy.version = ip.address.includes(':') ? '6' : '4';
      return copy;
    });
  }
  if (compareVersions(to, '1.1.0') < 0) {
    if (Array.isArray(result.routes)) out.routes = result.routes.map((r) => pick(r, ROUTE_FIELDS_BEFORE_110));
    if (Array.isArray(result.interfaces)) out.interfaces = result.interfaces.map((i) => pick(i, INTERFACE_FIELDS_BEFORE_110));
  }
  return out;
}

function pick(v: Json, keys: readonly string[]): Json {
  if (!isObject(v)) return v;
  const o: JsonObject = {};
  for (const k of keys) if (k in v) o[k] = v[k];
  return o;
}

// VtepMAC: stable for a node identity, distinct across identities, locally administered unicast,
// in the colon form Flannel writes; and the lease value codec round-trips Flannel's own value.
import { describe, expect, it } from 'vitest';
import { deriveVtepMac } from '../../../../daemon/control/lease/vtep-mac.js';
import { normalizeMac } from '../../../../daemon/net/mac.js';
import { decodeLeaseValue, encodeLeaseValue } from '../../../../daemon/control/lease/lease-codec.js';

describe('VtepMAC', () => {
  it('is the same for the same node name and public IP, different otherwise', () => {
    const a = deriveVtepMac('node1', '198.18.0.1');
    expect(deriveVtepMac('node1', '198.18.0.1')).toBe(a);
    expect(deriveVtepMac('node2', '198.18.0.1')).not.toBe(a);
    expect(deriveVtepMac('node1', '198.18.0.2')).not.toBe(a);
    const many = new Set(Array.from({ length: 1000 }, (_, i) => deriveVtepMac(`n${i}`, '198.18.0.1')));
    expect(many.size).toBe(1000);
  });

  it('is a lower-case, locally administered, unicast MAC', () => {
    for (let i = 0; i < 200; i++) {
      const mac = deriveVtepMac(`node${i}`, `198.18.${i % 256}.1`);
      expect(mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      const first = parseInt(mac.slice(0, 2), 16);
      expect(first & 0x01).toBe(0);
      expect(first & 0x02).toBe(2);
    }
  });

  it('is fixed by its definition (SHA-256 of "name\\npublic IP"), so reboots and upgrades keep it', () => {
    expect(deriveVtepMac('node1', '198.18.0.1')).toBe('3e:32:da:5f:2d:52');
    expect(normalizeMac('C6:D2:32:6F:8F:44')).toBe('c6:d2:32:6f:8f:44');
    expect(normalizeMac('c6:d2:32:6f:8f')).toBeNull();
  });
});

describe('lease value', () => {
  it('encodes in Flannel field order with weft fields last in BackendData', () => {
    expect(encodeLeaseValue({ publicIp: '198.18.0.1', vni: 1, vtepMac: 'c6:d2:32:6f:8f:44', gossipPort: 8473, nodeName: 'node1' })).toBe(
      '{"PublicIP":"198.18.0.1","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44","WeftGossipPort":8473,"WeftNodeName":"node1"}}',
    );
  });

  it('advertises checksum elision as BackendData.WeftCsumElision, after the other weft fields, and reads it back', () => {
    const v = encodeLeaseValue({ publicIp: '198.18.0.1', vni: 1, vtepMac: 'c6:d2:32:6f:8f:44', gossipPort: 8473, nodeName: 'node1', csumElision: true });
    expect(v).toBe(
      '{"PublicIP":"198.18.0.1","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44","WeftGossipPort":8473,"WeftNodeName":"node1","WeftCsumElision":true}}',
    );
    expect(decodeLeaseValue(v)).toMatchObject({ csumElision: true, nodeName: 'node1' });
    expect(decodeLeaseValue(v.replace('"WeftCsumElision":true', '"WeftCsumElision":"yes"'))).toMatchObject({ csumElision: false });
  });

  it("decodes a Flannel node's value (no weft fields) and rejects garbage", () => {
    expect(decodeLeaseValue('{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}')).toEqual({
      publicIp: '192.168.64.3',
      backendType: 'vxlan',
      vni: 1,
      vtepMac: 'c6:d2:32:6f:8f:44',
      gossipPort: undefined,
      nodeName: undefined,
      csumElision: false,
    });
    expect(decodeLeaseValue('{"PublicIP":"192.168.64.3"}')).toMatchObject({ backendType: '', vtepMac: undefined });
    expect(decodeLeaseValue('nope')).toBe('value is not JSON');
    expect(decodeLeaseValue('{"BackendType":"vxlan"}')).toBe('PublicIP is missing');
  });
});

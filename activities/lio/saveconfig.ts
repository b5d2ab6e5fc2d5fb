// Reads LIO's state from the rtslib-fb dump (`saveconfig.json`), the way the SBPS marshal does. Only
// what export decisions need is kept. Values are taken as strings as found: real files carry template
// placeholders in `dev` and `ip_address` (Salt/Jinja), which are not paths or addresses.
// CHAP passwords are reduced to a SHA-224 fingerprint here, so parsed state can be logged or compared
// without carrying a secret.
import { z } from 'zod';
import { sha224Hex } from '../../lib/sha224';

const ChapKeys = z.object({
  chap_userid: z.string().optional(),
  chap_password: z.string().optional(),
  chap_mutual_userid: z.string().optional(),
  chap_mutual_password: z.string().optional(),
});

const SaveConfig = z.object({
  storage_objects: z
    .array(
      z.object({
        name: z.string(),
        plugin: z.string(),
        dev: z.string().optional(),
        size: z.number().optional(),
        wwn: z.string().optional(),
        readonly: z.boolean().optional(),
      }),
    )
    .default([]),
  targets: z
    .array(
      z.object({
        fabric: z.string(),
        wwn: z.string(),
        tpgs: z
          .array(
            ChapKeys.extend({
              tag: z.number(),
              enable: z.boolean().default(true),
              attributes: z.record(z.string(), z.union([z.number(), z.string()])).default({}),
              luns: z.array(z.object({ index: z.number(), storage_object: z.string() })).default([]),
              node_acls: z
                .array(
                  ChapKeys.extend({
                    node_wwn: z.string(),
                    mapped_luns: z.array(z.object({ index: z.number(), tpg_lun: z.number(), write_protect: z.boolean().default(false) })).default([]),
                  }),
                )
                .default([]),
              portals: z.array(z.object({ ip_address: z.string(), port: z.number() })).default([]),
            }),
          )
          .default([]),
      }),
    )
    .default([]),
});

export interface LioChap {
  userid: string;
  passwordSha224: string | null;
  mutualUserid: string | null;
  mutualPasswordSha224: string | null;
}

export interface LioStorageObject {
  name: string;
  plugin: string;
  /** `dev` as written: a path for fileio/block, but possibly a placeholder in templated files. */
  dev: string | null;
  sizeBytes: number | null;
  /** The unit serial (the marshal's wwn). */
  wwn: string | null;
}

export interface LioLun {
  index: number;
  /** `/backstores/<plugin>/<name>` as in the file, split. */
  storageObject: { plugin: string; name: string };
}

export interface LioNodeAcl {
  initiator: string;
  /** Mapped LUN `index` is what the initiator sees; `tpgLun` is the TPG LUN it points to: they may differ. */
  mappedLuns: { index: number; tpgLun: number; writeProtect: boolean }[];
  chap: LioChap | null;
}

export interface LioTpg {
  tag: number;
  enable: boolean;
  attributes: Record<string, number | string>;
  /** Sorted by index (files need not be). */
  luns: LioLun[];
  nodeAcls: LioNodeAcl[];
  portals: { address: string; port: number }[];
  chap: LioChap | null;
}

export interface LioTarget {
  fabric: string;
  wwn: string;
  tpgs: LioTpg[];
}

export interface LioState {
  storageObjects: LioStorageObject[];
  /** Every fabric (iscsi, tcm_fc, ...); export decisions look at `fabric === 'iscsi'` only. */
  targets: LioTarget[];
}

export const emptyLioState: LioState = { storageObjects: [], targets: [] };

export class SaveconfigInvalid extends Error {
  constructor(source: string, reason: string) {
    super(`${source} is not an LIO saveconfig.json: ${reason}`);
    this.name = 'SaveconfigInvalid';
  }
}

export function parseSaveconfig(text: string, source = 'saveconfig.json'): LioState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new SaveconfigInvalid(source, (error as Error).message);
  }
  const parsed = SaveConfig.safeParse(raw);
  if (!parsed.success) throw new SaveconfigInvalid(source, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return {
    storageObjects: parsed.data.storage_objects.map((so) => ({
      name: so.name,
      plugin: so.plugin,
      dev: so.dev ?? null,
      sizeBytes: so.size ?? null,
      wwn: so.wwn ?? null,
    })),
    targets: parsed.data.targets.map((target) => ({
      fabric: target.fabric,
      wwn: target.wwn,
      tpgs: target.tpgs.map((tpg) => ({
        tag: tpg.tag,
        enable: tpg.enable,
        attributes: tpg.attributes,
        luns: tpg.luns.map((lun) => ({ index: lun.index, storageObject: splitStorageObjectPath(lun.storage_object) })).sort((a, b) => a.index - b.index),
        nodeAcls: tpg.node_acls.map((acl) => ({
          initiator: acl.node_wwn,
          mappedLuns: acl.mapped_luns.map((m) => ({ index: m.index, tpgLun: m.tpg_lun, writeProtect: m.write_protect })).sort((a, b) => a.index - b.index),
          chap: chapOf(acl),
        })),
        portals: tpg.portals.map((p) => ({ address: p.ip_address, port: p.port })),
        chap: chapOf(tpg),
      })),
    })),
  };
}

function splitStorageObjectPath(path: string): { plugin: string; name: string } {
  const match = /^\/backstores\/([^/]+)\/(.+)$/.exec(path);
  return match ? { plugin: match[1], name: match[2] } : { plugin: '', name: path };
}

function chapOf(keys: z.infer<typeof ChapKeys>): LioChap | null {
  if (!keys.chap_userid) return null;
  return {
    userid: keys.chap_userid,
    passwordSha224: keys.chap_password ? sha224Hex(keys.chap_password) : null,
    mutualUserid: keys.chap_mutual_userid || null,
    mutualPasswordSha224: keys.chap_mutual_password ? sha224Hex(keys.chap_mutual_password) : null,
  };
}

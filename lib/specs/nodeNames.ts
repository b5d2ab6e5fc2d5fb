// Node names in ClusterShell node set syntax, as every spec takes them.
import { z } from 'zod';
import { expandNodeset } from '../nodeset';

/** Nodes one spec may name in all (a node set per element is bounded too, but a list of them was not). */
export const maxNodesPerSpec = 100_000;

/** Each element a name or a node set (`nid[0001-1000]`); expanded, in order, without duplicates. */
export const NodeNames = z
  .union([z.string(), z.array(z.string())], { error: 'give nodes as a ClusterShell node set string or a list' })
  .transform((value, ctx) => {
    const nodes = new Set<string>();
    for (const pattern of typeof value === 'string' ? [value] : value) {
      try {
        for (const node of expandNodeset(pattern)) nodes.add(node);
        if (nodes.size > maxNodesPerSpec) {
          ctx.addIssue({ code: 'custom', message: `more than ${maxNodesPerSpec} nodes in all: split the change into several` });
          return z.NEVER;
        }
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }
    if (nodes.size === 0) ctx.addIssue({ code: 'custom', message: 'the node set is empty' });
    return [...nodes];
  });

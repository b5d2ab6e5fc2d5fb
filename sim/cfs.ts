// CFS v3 configurations and sessions (and the v2 session paths the `cray` CLI still uses). A
// session moves pending → running → complete with `succeeded`; an image session really customizes
// the image (customize.ts). Like CFS, a session whose image IMS does not have waits, pending,
// forever; fields CFS has no value for yet are left out (the spec has them as non-null strings);
// a session started while the `hangSessions` fault is on stays running, even across a restart; one
// started under `etaglessResultsNext` registers its result with seed 000's etag-less rootfs link.
import type { Faults } from './faults';
import { problem, requireObject, route, type Route } from './http';
import type { Ims } from './ims';
import { customize } from './customize';
import type { SimS3 } from './s3';
import type { CfsLayer, CfsSession, StateFile } from './store';

const namePattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const definitions = ['image', 'spec', 'repo', 'dynamic'];

export class Cfs {
  private readonly active = new Set<string>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly store: StateFile,
    private readonly ims: Ims,
    private readonly s3: SimS3,
    private readonly faults: Faults,
    private readonly tickMs = 500,
  ) {}

  private get sessions() {
    return this.store.state.sessions;
  }

  private get configurations() {
    return this.store.state.configurations;
  }

  start(): void {
    this.timer = setInterval(() => this.advance(), this.tickMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  routes(): Route[] {
    const v3 = '/apis/cfs/v3';
    const v2 = '/apis/cfs/v2';
    return [
      route('GET', `${v3}/configurations`, () => ({ status: 200, body: { configurations: Object.values(this.configurations), next: null } })),
      route('GET', `${v3}/configurations/{configuration_id}`, ({ params }) => ({ status: 200, body: this.configuration(params.configuration_id) })),
      route('PUT', `${v3}/configurations/{configuration_id}`, ({ params, body }) => ({ status: 200, body: this.putConfiguration(params.configuration_id, body) })),
      route('DELETE', `${v3}/configurations/{configuration_id}`, ({ params }) => {
        this.configuration(params.configuration_id);
        delete this.configurations[params.configuration_id];
        this.store.save();
        return { status: 204 };
      }),
      route('GET', `${v3}/sessions`, () => ({ status: 200, body: { sessions: Object.values(this.sessions).map(publicSession), next: null } })),
      route('POST', `${v3}/sessions`, ({ body }) => {
        const input = requireObject(body);
        return { status: 201, body: publicSession(this.createSession(input.name, input.configuration_name, input.target, input.tags)) };
      }),
      route('GET', `${v3}/sessions/{session_name}`, ({ params }) => ({ status: 200, body: publicSession(this.session(params.session_name)) })),
      route('DELETE', `${v3}/sessions/{session_name}`, ({ params }) => this.deleteSession(params.session_name)),
      route('GET', `${v2}/sessions`, () => ({ status: 200, body: Object.values(this.sessions).map(v2Session) })),
      route('POST', `${v2}/sessions`, ({ body }) => {
        const input = requireObject(body);
        return { status: 200, body: v2Session(this.createSession(input.name, input.configurationName, input.target, input.tags)) };
      }),
      route('GET', `${v2}/sessions/{session_name}`, ({ params }) => ({ status: 200, body: v2Session(this.session(params.session_name)) })),
      route('DELETE', `${v2}/sessions/{session_name}`, ({ params }) => this.deleteSession(params.session_name)),
    ];
  }

  private configuration(name: string) {
    const configuration = this.configurations[name];
    if (!configuration) throw problem(404, 'Not Found', `Configuration ${name} could not be found`);
    return configuration;
  }

  private putConfiguration(name: string, body: unknown) {
    const layers = requireObject(body).layers;
    if (!Array.isArray(layers) || layers.length === 0) throw problem(400, 'Bad Request', 'layers must be a non-empty list');
    for (const [index, layer] of (layers as CfsLayer[]).entries()) {
      if (!layer.clone_url || !layer.playbook) throw problem(400, 'Bad Request', `layer ${index}: clone_url and playbook are required`);
      if (layer.commit && layer.branch) throw problem(400, 'Bad Request', `layer ${index}: commit and branch are mutually exclusive`);
    }
    this.configurations[name] = { name, last_updated: new Date().toISOString(), layers: layers as CfsLayer[] };
    this.store.save();
    return this.configurations[name];
  }

  private session(name: string): CfsSession {
    const session = this.sessions[name];
    if (!session) throw problem(404, 'Not Found', `Session ${name} could not be found`);
    return session;
  }

  /** The checks CFS makes, in its order: the model (400), the name is free (409), the configuration exists (400), the target (400). */
  private createSession(name: unknown, configurationName: unknown, target: unknown, tags: unknown): CfsSession {
    if (typeof name !== 'string' || name.length > 45 || !namePattern.test(name)) {
      throw problem(400, 'Bad Request', 'name must be at most 45 characters of lowercase letters, digits, "-" and "."');
    }
    const wanted = (target ?? {}) as Partial<CfsSession['target']>;
    const definition = wanted.definition ?? 'dynamic';
    if (!definitions.includes(definition)) throw problem(400, 'Bad Request', `target definition must be one of ${definitions.join(', ')}`);
    if (this.sessions[name]) throw problem(409, 'Conflicting session name', `A session with the name ${name} already exists`);
    if (typeof configurationName !== 'string' || !this.configurations[configurationName]) {
      throw problem(400, 'Invalid configuration', `No configurations exist named ${configurationName}`);
    }
    const groups = wanted.groups ?? [];
    const targetProblem = checkTarget(definition, groups);
    if (targetProblem) throw problem(400, 'Bad Request', targetProblem);
    const session: CfsSession = {
      name,
      configuration: { name: configurationName, limit: '' },
      ansible: { config: 'cfs-default-ansible-cfg', limit: '', verbosity: 0, passthrough: '' },
      target: { definition, groups, image_map: wanted.image_map ?? [] },
      status: { artifacts: [], session: { status: 'pending', succeeded: 'none', start_time: new Date().toISOString() } },
      tags: (tags as Record<string, string>) ?? {},
      debug_on_failure: false,
      ...(this.faults.settings.hangSessions ? { hang: true as const } : {}),
      ...(this.faults.takeEtaglessResult() ? { etaglessResult: true as const } : {}),
    };
    this.sessions[name] = session;
    this.store.save();
    return session;
  }

  private deleteSession(name: string) {
    this.session(name);
    delete this.sessions[name];
    this.store.save();
    return { status: 204 };
  }

  /**
   * One step of every session that is not complete: pending → running (a tick at least), then the
   * work. State is in the store, so sessions go on after a simulator restart.
   */
  private advance(): void {
    for (const session of Object.values(this.sessions)) {
      const state = session.status.session;
      if (state.status === 'complete' || this.active.has(session.name)) continue;
      const images = session.target.definition === 'image' ? session.target.groups.flatMap((g) => g.members) : [];
      if (images.some((id) => !this.ims.images[id])) continue; // CFS waits for images that IMS does not have
      if (state.status === 'pending') {
        state.status = 'running';
        state.job = `cfs-${session.name}`;
        this.store.save();
        continue;
      }
      if (session.hang) continue;
      if (session.target.definition !== 'image') {
        this.finish(session, 'true');
        continue;
      }
      this.active.add(session.name);
      void this.run(session, images).finally(() => this.active.delete(session.name));
    }
  }

  private async run(session: CfsSession, images: string[]): Promise<void> {
    const layers = this.configurations[session.configuration.name]?.layers ?? [];
    let succeeded: 'true' | 'false' = 'true';
    const artifacts: CfsSession['status']['artifacts'] = [];
    const log: string[] = [];
    for (const imageId of images) {
      const resultName = session.target.image_map.find((m) => m.source_id === imageId)?.result_name ?? `${this.ims.images[imageId].name}_cfs_${session.name}`;
      try {
        const outcome = await customize(this.ims, this.s3, imageId, layers, resultName, { etaglessRootfs: session.etaglessResult === true });
        log.push(...outcome.log);
        if (outcome.ok) artifacts.push({ image_id: imageId, result_id: outcome.resultId, type: 'ims_customized_image' });
        else succeeded = 'false';
      } catch (error) {
        log.push(`error: ${(error as Error).message}`);
        succeeded = 'false';
      }
    }
    if (!this.sessions[session.name]) return; // deleted while it ran
    session.status.artifacts = artifacts;
    session.logs = log.join('\n');
    this.finish(session, succeeded);
  }

  private finish(session: CfsSession, succeeded: 'true' | 'false') {
    session.status.session.status = 'complete';
    session.status.session.succeeded = succeeded;
    session.status.session.completion_time = new Date().toISOString();
    this.store.save();
  }
}

function publicSession(session: CfsSession) {
  const { logs: _logs, hang: _hang, etaglessResult: _etaglessResult, ...rest } = session;
  return rest;
}

function v2Session(session: CfsSession) {
  const state = session.status.session;
  return {
    name: session.name,
    configuration: session.configuration,
    ansible: session.ansible,
    target: session.target,
    status: {
      artifacts: session.status.artifacts,
      session: { job: state.job, completionTime: state.completion_time, startTime: state.start_time, status: state.status, succeeded: state.succeeded },
    },
    tags: session.tags,
  };
}

/** CFS's validate_session_target: groups only for spec and image targets, image members are UUIDs. */
function checkTarget(definition: string, groups: CfsSession['target']['groups']): string | undefined {
  if (definition === 'repo' || definition === 'dynamic') {
    return groups.length ? `'${definition}' target definitions must not contain groups specifications.` : undefined;
  }
  if (groups.length === 0) return 'At least one target group must be specified.';
  if (groups.some((group) => !Array.isArray(group?.members))) return 'Groups must be an object with the members property.';
  if (groups.some((group) => group.members.length === 0)) return 'Group member lists must not be empty.';
  if (groups.some((group) => group.members.includes(''))) return 'Group members must not be blank.';
  const notUuids = groups.flatMap((group) => group.members.filter((member) => !uuidPattern.test(member)).map((member) => `(${group.name}, ${member})`));
  if (definition === 'image' && notUuids.length) return `The following Image target group members are not valid UUIDs: ${notUuids.join(', ')}.`;
  return undefined;
}

const uuidPattern = /^\{?(urn:uuid:)?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$/i;

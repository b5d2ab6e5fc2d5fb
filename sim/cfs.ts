// CFS v3 configurations and sessions (and the v2 session paths the `cray` CLI still uses). A
// session moves pending → running → complete with `succeeded`; an image session really customizes
// the image (customize.ts). Like CFS, a session for an image IMS does not have waits, pending,
// forever; fields CFS has no value for yet are left out (the spec has them as non-null strings);
// a session started while the `hangSessions` fault is on stays running.
import type { Faults } from './faults';
import { problem, requireObject, route, type Route } from './http';
import type { Ims } from './ims';
import { customize } from './customize';
import type { SimS3 } from './s3';
import type { CfsLayer, CfsSession, StateFile } from './store';

const namePattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const definitions = ['image', 'spec', 'repo', 'dynamic'];

export class Cfs {
  private readonly hung = new Set<string>();
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
        return { status: 201, body: v2Session(this.createSession(input.name, input.configurationName, input.target, input.tags)) };
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

  private createSession(name: unknown, configurationName: unknown, target: unknown, tags: unknown): CfsSession {
    if (typeof name !== 'string' || name.length > 45 || !namePattern.test(name)) {
      throw problem(400, 'Bad Request', 'name must be at most 45 characters of lowercase letters, digits, "-" and "."');
    }
    if (typeof configurationName !== 'string' || !this.configurations[configurationName]) {
      throw problem(400, 'Bad Request', `Configuration ${JSON.stringify(configurationName)} does not exist`);
    }
    if (this.sessions[name]) throw problem(409, 'Conflict', `A session with the name ${name} already exists`);
    const wanted = (target ?? {}) as Partial<CfsSession['target']>;
    const definition = wanted.definition ?? 'dynamic';
    if (!definitions.includes(definition)) throw problem(400, 'Bad Request', `target definition must be one of ${definitions.join(', ')}`);
    const groups = wanted.groups ?? [];
    if (definition === 'image' && (groups.length === 0 || groups.some((g) => !g.members?.length))) {
      throw problem(400, 'Bad Request', 'an image target needs groups with at least one image id each');
    }
    const session: CfsSession = {
      name,
      configuration: { name: configurationName, limit: '' },
      ansible: { config: 'cfs-default-ansible-cfg', limit: '', verbosity: 0, passthrough: '' },
      target: { definition, groups, image_map: wanted.image_map ?? [] },
      status: { artifacts: [], session: { status: 'pending', succeeded: 'none', start_time: new Date().toISOString() } },
      tags: (tags as Record<string, string>) ?? {},
      debug_on_failure: false,
    };
    if (this.faults.settings.hangSessions) this.hung.add(name);
    this.sessions[name] = session;
    this.store.save();
    return session;
  }

  private deleteSession(name: string) {
    this.session(name);
    delete this.sessions[name];
    this.hung.delete(name);
    this.store.save();
    return { status: 204 };
  }

  /** One step of every session that is not complete; survives a simulator restart. */
  private advance(): void {
    for (const session of Object.values(this.sessions)) {
      const state = session.status.session;
      if (state.status === 'complete' || this.active.has(session.name)) continue;
      if (session.target.definition !== 'image') {
        this.finish(session, 'true');
        continue;
      }
      const images = session.target.groups.flatMap((g) => g.members);
      if (images.some((id) => !this.ims.images[id])) continue; // CFS waits for images that IMS does not have
      state.status = 'running';
      state.job = `cfs-${session.name}`;
      this.store.save();
      if (this.hung.has(session.name)) continue;
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
        const outcome = await customize(this.ims, this.s3, imageId, layers, resultName);
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
  const { logs: _logs, ...rest } = session;
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

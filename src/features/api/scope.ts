import type { TypedApp } from '../../plugins/schemas.js';
import type { FeedbackService } from '../feedback/service.js';
import type { ImportService } from '../imports/service.js';
import type { PostService } from '../posts/service.js';
import type { SendingService } from '../sending/service.js';
import type { StatsService } from '../stats/service.js';
import type { SubscriberService } from '../subscribers/service.js';
import { importApiRoutes } from './imports-routes.js';
import { registerOpenApi } from './openapi.js';
import { apiHooks } from './plugin.js';
import { postApiRoutes } from './posts-routes.js';
import { apiRoutes } from './routes.js';
import type { ApiService } from './service.js';
import { suppressionApiRoutes } from './suppressions-routes.js';

export interface ApiV1Deps {
  api: ApiService;
  subscribers: SubscriberService;
  posts: PostService;
  sending: SendingService;
  stats: StatsService;
  imports: ImportService;
  feedback: FeedbackService;
  baseUrl: string;
  mailFrom: string;
  version: string;
}

/** Everything under /api/v1, in its own encapsulated scope: the API's hooks and errors stay inside it. */
export function apiV1(deps: ApiV1Deps) {
  return async (scope: TypedApp) => {
    await registerOpenApi(scope, { baseUrl: deps.baseUrl, version: deps.version });
    apiHooks(deps.api)(scope);
    await scope.register(apiRoutes({ subscribers: deps.subscribers }));
    await scope.register(postApiRoutes({ posts: deps.posts, sending: deps.sending, stats: deps.stats, mailFrom: deps.mailFrom }));
    await scope.register(importApiRoutes({ imports: deps.imports }));
    await scope.register(suppressionApiRoutes({ feedback: deps.feedback }));
    scope.get('/openapi.json', { config: { keyless: true }, schema: { hide: true } }, async () => scope.swagger());
  };
}

import type { TypedApp } from '../../plugins/schemas.js';
import type { SubscriberService } from '../subscribers/service.js';
import { registerOpenApi } from './openapi.js';
import { apiHooks } from './plugin.js';
import { apiRoutes } from './routes.js';
import type { ApiService } from './service.js';

/** Everything under /api/v1, in its own encapsulated scope: the API's hooks and errors stay inside it. */
export function apiV1(deps: { api: ApiService; subscribers: SubscriberService; baseUrl: string; version: string }) {
  return async (scope: TypedApp) => {
    await registerOpenApi(scope, { baseUrl: deps.baseUrl, version: deps.version });
    apiHooks(deps.api)(scope);
    await scope.register(apiRoutes({ subscribers: deps.subscribers }));
    scope.get('/openapi.json', { config: { keyless: true }, schema: { hide: true } }, async () => scope.swagger());
  };
}

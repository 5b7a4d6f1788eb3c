// The API explorer: Swagger UI (web/vendor/swagger-ui, Apache-2.0) on the
// gateway's generated /openapi.json. The key signed in on the dashboard
// (this tab's sessionStorage) is used for "Try it out", so it is entered
// once; Swagger UI is told not to keep it anywhere else.
/* global SwaggerUIBundle */
window.addEventListener('DOMContentLoaded', () => {
  const key = sessionStorage.getItem('tradebus.key') || '';
  const ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger',
    deepLinking: false,
    persistAuthorization: false,
    validatorUrl: null, // the badge would call swagger.io
    tryItOutEnabled: true,
    onComplete: () => { if (key) ui.preauthorizeApiKey('bearerAuth', key); },
  });
});

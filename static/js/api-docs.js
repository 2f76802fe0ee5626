// Swagger UI over the service's OpenAPI document. validatorUrl: null keeps it from sending the
// document to swagger.io: this page talks to nothing but this server.
window.addEventListener('DOMContentLoaded', function () {
  var el = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({url: el.dataset.specUrl, dom_id: '#swagger-ui', validatorUrl: null,
                               deepLinking: true});
});

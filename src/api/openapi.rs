//! The OpenAPI document served at `/api/openapi.json` (and browsable at `/swagger-ui/`).

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(info(
    title = "csms",
    description = "OCPP 1.6J central system with a customer wallet"
))]
struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

# Loads a rendered HERMES_HOME the way `hermes gateway run` does and prints
# what Hermes made of it as one JSON line prefixed with GOPILOT_RESULT.
# Secrets are compared here and never printed.
import json
import os

result = {}


def fail(stage, error):
    result["error"] = {"stage": stage, "message": f"{type(error).__name__}: {error}"}


try:
    from hermes_cli.env_loader import load_hermes_dotenv
    from hermes_cli.config import load_config

    load_hermes_dotenv()
    model = load_config().get("model") or {}
    result["model"] = {key: model.get(key) for key in ("provider", "default", "base_url")}
except Exception as error:
    fail("config", error)

if "error" not in result:
    try:
        from hermes_cli.runtime_provider import resolve_runtime_provider

        runtime = resolve_runtime_provider()
        result["runtime"] = {
            "provider": runtime.get("provider"),
            "base_url": runtime.get("base_url"),
            "api_mode": runtime.get("api_mode"),
            "key_matches": runtime.get("api_key") == os.environ["GOPILOT_EXPECTED_MODEL_KEY"],
        }
    except Exception as error:
        fail("model", error)

if "error" not in result:
    try:
        from gateway.config import Platform, load_gateway_config

        gateway = load_gateway_config()
        result["platforms"] = sorted(p.value for p, c in gateway.platforms.items() if c.enabled)
        api = gateway.platforms.get(Platform.API_SERVER)
        if api is not None:
            result["api_server"] = {
                "host": api.extra.get("host"),
                "port": api.extra.get("port"),
                "key_matches": api.extra.get("key") == os.environ["GOPILOT_EXPECTED_SERVER_KEY"],
            }
    except Exception as error:
        fail("gateway", error)

print("GOPILOT_RESULT " + json.dumps(result))

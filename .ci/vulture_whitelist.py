"""Names vulture cannot see used: read by Django from settings strings, by the channel layer from a
message's type, by templates and the browser's JavaScript, or as query keywords. Each with its reader."""

# ruff: noqa: B018, F821
# Named in config/settings.py as dotted strings.
SitePolicyMiddleware  # MIDDLEWARE
PipelinedPubSubChannelLayer  # CHANNEL_LAYERS["rooms"] when scaled out
request_client_address  # AXES_CLIENT_IP_CALLABLE
_.background_tasks  # config.background: keeps the app's tasks referenced for as long as it runs

# Channel-layer handlers: Channels calls the method named by a message's "type" ("seat.taken").
_.seat_taken
_.player_kicked

# Model fields read through the ORM's keyword arguments, the admin and templates.
_.empty_since
_.last_seen
_.joined_at
_.canvas_width
_.canvas_height
_.requested_at  # templates/admin/inference/modelversion/_pending.html
_.metric_rows  # templates/admin/inference/modelversion/compare.html

# Protocol fields only the browser reads (static/js).
_.ai_guessed_ms
_.deadline_ms
_.server_ms
_.thumb_url
_.ai_right
_.ai_ms

# Library attributes set for their owners to read.
_.trust_env  # requests.Session: no proxies from the environment for loopback tests
_.optimizations  # tf.lite.TFLiteConverter
_.raise_request_exception  # django.test.Client
_.close_connection  # http.server handlers (tests' fake Google storage)
_.daemon_threads  # socketserver
_.log_message  # http.server.BaseHTTPRequestHandler
_.do_GET  # http.server.BaseHTTPRequestHandler
pytestmark  # pytest reads it from each test module
record_or_fail  # tests/test_inference_consumer.py names it in settings.INFERENCE_RESULT_HANDLER
allowed_hosts  # config/settings.py: ALLOWED_HOSTS

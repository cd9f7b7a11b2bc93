"""The API's routers, one per resource group; ``api.app.create_app`` mounts them."""

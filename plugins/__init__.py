"""Built-in bench plugins, installed as `bench_plugins` and discovered through the `bench` entry-point group like any third-party plugin."""

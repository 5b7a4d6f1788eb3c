"""Reading compose files as Compose does, for the static tests.

PyYAML's safe loader rejects Compose's `!reset` and `!override` tags; this
loader reads them as a Reset holding the tagged value, so a test merging a
base file with an override can tell "replace" from "append".
"""
import yaml


class Reset:
    """Compose's `!reset` / `!override` tag: the key's value replaces the base's."""

    def __init__(self, value):
        self.value = value


class ComposeLoader(yaml.SafeLoader):
    pass


def _reset(loader, node):
    if isinstance(node, yaml.SequenceNode):
        return Reset(loader.construct_sequence(node))
    if isinstance(node, yaml.MappingNode):
        return Reset(loader.construct_mapping(node))
    return Reset(loader.construct_scalar(node))


ComposeLoader.add_constructor("!reset", _reset)
ComposeLoader.add_constructor("!override", _reset)


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=ComposeLoader)

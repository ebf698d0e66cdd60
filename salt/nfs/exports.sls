{#- The exported directories on the NAS, owned by the numeric uid:gid every
    client is squashed to (all_squash: salt/nfs/defaults.yaml says why). #}
{%- from 'nfs/map.jinja' import exports with context %}
{%- for export in exports %}

nfs-exports-{{ export.name }}-directory:
  file.directory:
    - name: {{ export.path }}
    - user: {{ export.uid }}
    - group: {{ export.gid }}
    - mode: '{{ export.mode }}'
    - makedirs: True
{%- endfor %}

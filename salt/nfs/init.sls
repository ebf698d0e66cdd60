{#- NFS by role: the NAS (storage) serves, the controllers mount. The
    highstate and the deploy orchestration apply nfs.server and nfs.client
    directly (salt/roles.yaml); this is for `state.apply nfs`. #}
{%- set roles = salt['inventory.roles']() %}
{%- set parts = [] %}
{%- if 'storage' in roles %}{% do parts.append('nfs.server') %}{% endif %}
{%- if 'controller' in roles %}{% do parts.append('nfs.client') %}{% endif %}
{%- if parts %}
include: {{ parts | json }}
{%- endif %}

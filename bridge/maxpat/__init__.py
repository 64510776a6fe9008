"""Max patchers and Max for Live devices as data: building them (``patcher``), the .amxd
container (``amxd``), Max's own objects and their inlets/outlets (``objects``), checking a
device or patch without Max (``validate``) and drawing a device's face (``diagram``).

Downstream of everything: nothing here imports the rest of the project.
"""

"""The wire contracts cmsync speaks: interface definitions of the APIs it calls and the code generated
from them, shared by cmsync's clients and the sandbox's emulators; nothing here imports the rest of cmsync."""
